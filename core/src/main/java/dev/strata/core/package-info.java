/**
 * Vocabulary shared by every Strata module: page identifiers and size classes, CRC32C checksums,
 * byte-size parsing, native memory through {@code java.lang.foreign}, the write-batch wire format and
 * the {@link dev.strata.core.StrataException} hierarchy root.
 */
package dev.strata.core;
