package dev.strata.core;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * A small shared pool of growable native buffers, for per-batch scratch space (a batch's log payload, its
 * before-images) that would otherwise be allocated on the Java heap batch after batch: megabytes that live
 * as long as a batch does, so under a small heap they outlive young collections, get promoted, and fill the
 * old generation with garbage that only full collections reclaim. Buffers come from {@link Arena#ofAuto()}:
 * one that is dropped instead of recycled (grown past, too large to keep, or never handed back) is freed once
 * unreachable. Thread-safe.
 */
public final class SpareBuffers {
    private final AtomicReferenceArray<MemorySegment> spares;
    private final long maxBytes;
    private final long firstBytes;

    /**
     * @param count      buffers the pool keeps
     * @param firstBytes size of a buffer made when no spare is left
     * @param maxBytes   largest buffer the pool keeps
     */
    public SpareBuffers(int count, long firstBytes, long maxBytes) {
        if (count < 0 || firstBytes <= 0 || maxBytes < firstBytes) {
            throw new IllegalArgumentException("spare buffers: " + count + " of " + firstBytes + ".." + maxBytes
                    + " bytes");
        }
        this.spares = new AtomicReferenceArray<>(count);
        this.firstBytes = firstBytes;
        this.maxBytes = maxBytes;
    }

    /** A spare buffer (any size), or a new one of at least {@code minBytes}. */
    public MemorySegment take(long minBytes) {
        for (int i = 0; i < spares.length(); i++) {
            if (spares.get(i) != null) {
                MemorySegment spare = spares.getAndSet(i, null);
                if (spare != null) {
                    return spare.byteSize() >= minBytes ? spare : grow(spare, 0, minBytes);
                }
            }
        }
        return allocate(Math.max(minBytes, firstBytes));
    }

    /**
     * Gives back a buffer this pool handed out (or {@link #grow} returned), once nothing reads it any more;
     * dropped if the pool is full or the buffer is larger than the pool keeps.
     */
    public void recycle(MemorySegment buffer) {
        if (buffer == null || !buffer.isNative() || buffer.byteSize() == 0 || buffer.byteSize() > maxBytes) {
            return;
        }
        for (int i = 0; i < spares.length(); i++) {
            if (spares.get(i) == null && spares.compareAndSet(i, null, buffer)) {
                return;
            }
        }
    }

    /**
     * A buffer of at least {@code need} bytes (at least twice {@code buffer}'s size) holding the first
     * {@code used} bytes of {@code buffer}, which is dropped.
     */
    public static MemorySegment grow(MemorySegment buffer, long used, long need) {
        MemorySegment bigger = allocate(Math.max(need, 2 * buffer.byteSize()));
        MemorySegment.copy(buffer, 0, bigger, 0, used);
        return bigger;
    }

    private static MemorySegment allocate(long bytes) {
        return Arena.ofAuto().allocate(bytes, 8);
    }
}
