package dev.strata.storage.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;

/**
 * A native scratch buffer for one thread (a {@link ThreadLocal} holds it), grown by doubling; a buffer it outgrows
 * is freed at once.
 *
 * <p>Why not an automatic arena per buffer: an outgrown buffer is then freed only when a collection finds it
 * unreachable, and one that lived long enough to reach the old generation waits for a full collection. A 20M-key
 * insert run with one full collection held ~118 MiB of outgrown page-compression buffers that way (native memory
 * tracking: 49 live allocations from one site), memory its cgroup then lacked for the page cache.
 *
 * <p>Not thread-safe: one thread uses it. The buffer of a thread that ended is freed once the holder is collected.
 */
public final class ThreadBuffer {
    private static final Cleaner CLEANER = Cleaner.create();

    private final long minBytes;
    private final long alignment;
    /** The current buffer's arena, in a cell the cleaning action shares (it must not refer to this holder). */
    private final Arena[] arena = new Arena[1];
    private MemorySegment segment;

    /**
     * @param minBytes  the first buffer's size at least
     * @param alignment the buffers' address alignment (a power of two)
     */
    public ThreadBuffer(long minBytes, long alignment) {
        if (minBytes <= 0 || alignment <= 0 || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("minBytes " + minBytes + ", alignment " + alignment);
        }
        this.minBytes = minBytes;
        this.alignment = alignment;
        Arena[] cell = arena;
        CLEANER.register(this, () -> {
            if (cell[0] != null) {
                cell[0].close();
            }
        });
    }

    /**
     * The buffer, at least {@code bytes} long: the current one if large enough, else a new one of at least twice its
     * size (the current one freed, its contents dropped).
     */
    public MemorySegment atLeast(long bytes) {
        if (segment == null || segment.byteSize() < bytes) {
            long size = Math.max(bytes, segment == null ? minBytes : Math.max(minBytes, 2 * segment.byteSize()));
            Arena next = Arena.ofShared();
            MemorySegment grown = next.allocate(size, alignment);
            Arena old = arena[0];
            arena[0] = next;
            segment = grown;
            if (old != null) {
                old.close();
            }
        }
        return segment;
    }
}
