/**
 * Live migration of a region (any {@link dev.strata.nbd.Backend}, typically a memory region)
 * between hosts: a {@link dev.strata.migration.Seeder} wraps the source backend, tracks dirty
 * chunks while the application keeps writing, and serves a {@link dev.strata.migration.Leecher}
 * over Strata's own framed TCP protocol (optionally TLS). Phase 1: background pull plus iterative
 * pre-copy rounds; phase 2 (finalize): suspend, last dirty set, epoch fence, the leecher serves
 * and pulls what it still lacks on demand (post-copy). {@link dev.strata.migration.MigrateCommands}
 * holds the CLI entry points ({@code strata migrate seed|leech}).
 */
package dev.strata.migration;
