/**
 * Backend implementations: off-heap memory, file, and the chunking layer ({@link
 * dev.strata.nbd.backend.ChunkedBackend}) over {@link dev.strata.nbd.backend.ChunkStore}s: directory of
 * chunk files, S3 objects, Redis keys.
 */
package dev.strata.nbd.backend;
