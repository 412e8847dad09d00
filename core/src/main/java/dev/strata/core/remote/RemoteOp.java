package dev.strata.core.remote;

import java.lang.foreign.MemorySegment;

/**
 * One element of a batched one-sided operation: {@code local.byteSize()} bytes at {@code offset} of
 * region {@code regionKey}, moved into (read) or out of (write) {@code local}. One RDMA work request
 * with a single scatter-gather entry.
 */
public record RemoteOp(long regionKey, long offset, MemorySegment local) {
    public RemoteOp {
        if (offset < 0) {
            throw new IllegalArgumentException("negative offset: " + offset);
        }
        if (local == null) {
            throw new IllegalArgumentException("local segment required");
        }
    }
}
