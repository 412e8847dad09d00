/** The durable page engine: write-ahead log with group commit, page file, checkpoints and recovery. */
package dev.strata.storage;
