/**
 * Internals of live migration: the wire format ({@link dev.strata.migration.internal.Wire},
 * {@link dev.strata.migration.internal.FrameReader}, {@link dev.strata.migration.internal.FrameWriter}),
 * the seeder's dirty map with generations and its write gate (suspend / fence), the leecher's
 * chunk presence map, and the terminal progress line. Nothing here is API.
 */
package dev.strata.migration.internal;
