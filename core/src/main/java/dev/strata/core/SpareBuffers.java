package dev.strata.core;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * A small shared pool of growable native buffers, for per-batch scratch space (a write batch's before-images)
 * that would otherwise be allocated on the Java heap batch after batch: megabytes that live as long as a batch
 * is open, so under a small heap they outlive young collections, get promoted, and fill the old generation with
 * garbage that only full collections reclaim. For buffers held while a batch is open (its before-images) and until
 * the log wrote it (its payload, which the log writes from where it is): the pool keeps as many buffers as a load
 * has in flight, up to a total size, since a buffer taken and freed per batch is a fresh mapping faulted in page by
 * page (sequential loads in memory ran up to 45% slower so).
 *
 * <p>Memory is given back at once, not left to the collector: a buffer the pool drops (grown past, or not
 * kept because the pool holds larger ones) is unmapped when dropped. Left to the collector, dropped buffers
 * outlived young collections like the heap arrays they replace, and with full collections rare they added up
 * to a hundred megabytes of native memory. The pool keeps the largest buffers it is given, and hands out the
 * largest it has, so that in a steady state batches stop growing buffers at all. A buffer taken and never
 * given back (its batch abandoned) stays allocated. Thread-safe.
 */
public final class SpareBuffers {
    private final AtomicReferenceArray<MemorySegment> spares;
    private final long maxBytes;
    private final long firstBytes;
    /** The arena of every buffer this pool made and has not freed, by address. */
    private final ConcurrentHashMap<Long, Arena> arenas = new ConcurrentHashMap<>();
    private final AtomicLong allocated = new AtomicLong();
    /** Bytes of the spares (approximate while a take or recycle is under way). */
    private final AtomicLong kept = new AtomicLong();
    private final long keptBytes;

    /**
     * @param count      buffers the pool keeps
     * @param firstBytes size of a buffer made when no spare is left
     * @param maxBytes   largest buffer the pool keeps
     */
    public SpareBuffers(int count, long firstBytes, long maxBytes) {
        this(count, firstBytes, maxBytes, count * maxBytes);
    }

    /**
     * @param count      buffers the pool keeps
     * @param firstBytes size of a buffer made when no spare is left
     * @param maxBytes   largest buffer the pool keeps
     * @param keptBytes  most bytes the kept buffers add up to
     */
    public SpareBuffers(int count, long firstBytes, long maxBytes, long keptBytes) {
        if (count < 0 || firstBytes <= 0 || maxBytes < firstBytes || keptBytes < 0) {
            throw new IllegalArgumentException("spare buffers: " + count + " of " + firstBytes + ".." + maxBytes
                    + " bytes, " + keptBytes + " bytes kept");
        }
        this.spares = new AtomicReferenceArray<>(count);
        this.firstBytes = firstBytes;
        this.maxBytes = maxBytes;
        this.keptBytes = keptBytes;
    }

    /** The largest spare buffer, grown if smaller than {@code minBytes}; or a new one of at least that. */
    public MemorySegment take(long minBytes) {
        while (true) {
            int best = -1;
            long bestSize = -1;
            for (int i = 0; i < spares.length(); i++) {
                MemorySegment s = spares.get(i);
                if (s != null && s.byteSize() > bestSize) {
                    best = i;
                    bestSize = s.byteSize();
                }
            }
            if (best < 0) {
                return allocate(Math.max(minBytes, firstBytes));
            }
            MemorySegment spare = spares.get(best);
            if (spare != null && spares.compareAndSet(best, spare, null)) {
                kept.addAndGet(-spare.byteSize());
                return spare.byteSize() >= minBytes ? spare : grow(spare, 0, minBytes);
            } // else another thread took it: look again
        }
    }

    /**
     * Gives back a buffer this pool handed out (or {@link #grow} returned), once nothing reads it any more. Kept if
     * the pool has room (a free place, and the kept bytes stay within the limit) or holds a smaller buffer (which is
     * freed instead); else freed. A buffer this pool did not make is left alone.
     */
    public void recycle(MemorySegment buffer) {
        if (buffer == null || buffer.byteSize() == 0 || !arenas.containsKey(buffer.address())) {
            return;
        }
        MemorySegment keep = buffer;
        if (keep.byteSize() <= maxBytes) {
            for (int i = 0; i < spares.length() && keep != null; i++) {
                MemorySegment s = spares.get(i);
                long size = keep.byteSize();
                if (s == null) {
                    if (kept.get() + size <= keptBytes && spares.compareAndSet(i, null, keep)) {
                        kept.addAndGet(size);
                        keep = null;
                    }
                } else if (s.byteSize() < size && kept.get() + size - s.byteSize() <= keptBytes
                        && spares.compareAndSet(i, s, keep)) {
                    kept.addAndGet(size - s.byteSize());
                    keep = s; // displaced: carry on with the smaller one
                }
            }
        }
        if (keep != null) {
            free(keep);
        }
    }

    /**
     * A buffer of at least {@code need} bytes (at least twice {@code buffer}'s size) holding the first
     * {@code used} bytes of {@code buffer}, which is freed.
     */
    public MemorySegment grow(MemorySegment buffer, long used, long need) {
        MemorySegment bigger = allocate(Math.max(need, 2 * buffer.byteSize()));
        MemorySegment.copy(buffer, 0, bigger, 0, used);
        free(buffer);
        return bigger;
    }

    /** Native bytes of the buffers this pool made and has not freed: spares, buffers in use, abandoned ones. */
    public long allocatedBytes() {
        return allocated.get();
    }

    /**
     * A buffer of its own anonymous mapping ({@link NativeMemory}), unmapped when freed, so its memory leaves the
     * process at once (with {@code malloc}'d buffers the out-of-memory quick run peaked higher, and was killed once
     * by its memory limit). Its pages are committed as they are first written. The segment belongs to a shared
     * arena whose closing unmaps it, so a use after free fails instead of crashing.
     */
    private MemorySegment allocate(long bytes) {
        NativeMemory memory = NativeMemory.reserve(bytes);
        Arena arena = Arena.ofShared();
        MemorySegment segment = memory.segment().reinterpret(bytes, arena, unused -> memory.close());
        arenas.put(segment.address(), arena);
        allocated.addAndGet(bytes);
        return segment;
    }

    private void free(MemorySegment buffer) {
        Arena arena = arenas.remove(buffer.address());
        if (arena != null) {
            allocated.addAndGet(-buffer.byteSize());
            arena.close();
        }
    }
}
