/**
 * NBD bridge public surface: {@link dev.strata.nbd.NbdServer}, the {@link dev.strata.nbd.Backend} SPI,
 * mounts, and {@link dev.strata.nbd.NbdCommands}, a picocli-free entry for the CLI.
 */
package dev.strata.nbd;
