/**
 * The B-epsilon index over a {@link dev.strata.compute.PageStore}: {@link dev.strata.index.Index} (named
 * indexes, point operations, lazily applied upserts, range scans, batches), its options and operators,
 * and {@link dev.strata.index.IndexDemo} for the CLI's demo.
 */
package dev.strata.index;
