package dev.strata.nbd.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Pooled native buffers for request payloads and replies, in power-of-two payload size classes from
 * 4 KiB to 64 MiB (plus the prefix). Each buffer reserves {@link #PREFIX} bytes before its payload so a reply header can be
 * written in front of the data and the whole reply leaves in one contiguous write:
 *
 * <pre>
 *   0            PREFIX-28   PREFIX-16      PREFIX                PREFIX+len
 *   |  unused ...  | structured hdr+offset |  payload ............ |
 *                               | simple hdr |
 * </pre>
 * Each buffer owns its {@link Arena}; at most {@code keepPerClass} free buffers per class (and at most
 * 256 MiB per class) are kept, others are freed on release. Thread-safe (Mpmc free lists).
 */
public final class BufferPool implements AutoCloseable {
    public static final int PREFIX = 32;
    private static final int MIN_SHIFT = 12;
    private static final int CLASSES = 15; // 4 KiB .. 64 MiB
    private final ConcurrentLinkedQueue<Buffer>[] free;
    private final AtomicInteger[] freeCount;
    private final int keepPerClass;
    private volatile boolean closed;

    /** A pooled native buffer; {@link #close} returns it. */
    public final class Buffer implements AutoCloseable {
        private final Arena arena;
        final MemorySegment segment;
        private final int sizeClass;

        private Buffer(int sizeClass) {
            this.arena = Arena.ofShared();
            this.segment = arena.allocate(PREFIX + (1L << (sizeClass + MIN_SHIFT)), 4096);
            this.sizeClass = sizeClass;
        }

        /** The payload area of {@code length} bytes after the prefix. */
        public MemorySegment payload(long length) {
            return segment.asSlice(PREFIX, length);
        }

        @Override
        public void close() {
            release(this);
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    public BufferPool(int keepPerClass) {
        this.keepPerClass = keepPerClass;
        this.free = new ConcurrentLinkedQueue[CLASSES];
        this.freeCount = new AtomicInteger[CLASSES];
        for (int i = 0; i < CLASSES; i++) {
            free[i] = new ConcurrentLinkedQueue<>();
            freeCount[i] = new AtomicInteger();
        }
    }

    /** A buffer with room for {@link #PREFIX} + {@code payload} bytes. */
    public Buffer acquire(long payload) {
        long need = Math.max(payload, 1);
        int c = Math.max(0, 64 - Long.numberOfLeadingZeros(need - 1) - MIN_SHIFT);
        if (c >= CLASSES) {
            throw new IllegalArgumentException("buffer of " + need + " bytes exceeds the pool's largest class");
        }
        Buffer b = free[c].poll();
        if (b != null) {
            freeCount[c].decrementAndGet();
            return b;
        }
        return new Buffer(c);
    }

    private void release(Buffer b) {
        if (!closed && freeCount[b.sizeClass].incrementAndGet() <= keep(b.sizeClass)) {
            free[b.sizeClass].add(b); // (a release racing close() leaves one buffer to process exit)
            return;
        }
        if (!closed) {
            freeCount[b.sizeClass].decrementAndGet();
        }
        b.arena.close();
    }

    /** Free buffers kept per class: {@code keepPerClass}, but never more than 256 MiB per class. */
    private int keep(int sizeClass) {
        return (int) Math.min(keepPerClass, Math.max(1, (256L << 20) >>> (sizeClass + MIN_SHIFT)));
    }

    /** Frees pooled buffers; buffers still out are freed when released. Idempotent. */
    @Override
    public void close() {
        closed = true;
        for (ConcurrentLinkedQueue<Buffer> q : free) {
            Buffer b;
            while ((b = q.poll()) != null) {
                b.arena.close();
            }
        }
    }
}
