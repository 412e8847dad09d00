package dev.strata.buffer;

import java.lang.foreign.MemorySegment;

/** One page image handed to {@link PageSource#write}: a view into the pool, valid during the call only. */
public record PageWrite(long pageNo, int sizeClass, long lsn, MemorySegment bytes) {}
