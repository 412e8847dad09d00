package dev.strata.index;

/** One key and its value, as returned by a scan. The arrays are the caller's. */
public record IndexEntry(byte[] key, byte[] value) {}
