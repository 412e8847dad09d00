/**
 * The durable local engine of a partition, shared by the embedded store and the storage-node server:
 * {@link dev.strata.storage.PartitionLog} (write-ahead log with group commit), {@link dev.strata.storage.PageFile}
 * (page images with out-of-band LSN/CRC metadata, written out of place into one of two slots per page, so a torn
 * write never hits the current image) and {@link dev.strata.storage.Checkpoint} (the newest checkpoint, replaced
 * atomically).
 */
package dev.strata.storage;
