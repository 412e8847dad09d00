/** NBD protocol implementation: wire constants, handshake (option haggling), transmission phase, reply writer. */
package dev.strata.nbd.internal;
