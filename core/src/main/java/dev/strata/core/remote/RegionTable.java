package dev.strata.core.remote;

import dev.strata.core.NativeMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.security.SecureRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The server side of one-sided operations: registered off-heap regions by key, each operation
 * nothing but a key lookup and a bounds check before the copy (DESIGN §6). Region memory is a
 * {@link NativeMemory} reservation, committed on first touch, charged in full to a {@link MemoryBudget}.
 *
 * <p>Keys are unguessable 64-bit values (a random salt mixed with a counter), like RDMA rkeys.
 * Thread-safe: operations on a region hold its read lock, so {@link #free} never unmaps memory under
 * a running copy.
 */
public final class RegionTable implements AutoCloseable {
    /** Largest region one allocation may ask for (the node's budget bounds it further). */
    public static final long MAX_REGION = 1L << 40;
    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();

    private final MemoryBudget budget;
    private final ConcurrentHashMap<Long, Region> regions = new ConcurrentHashMap<>();
    private final AtomicLong counter = new AtomicLong();
    private final long salt = new SecureRandom().nextLong();
    private volatile boolean closed;

    private static final class Region {
        final NativeMemory memory;
        final MemorySegment seg;
        final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
        boolean freed;

        Region(NativeMemory memory) {
            this.memory = memory;
            this.seg = memory.segment();
        }
    }

    public RegionTable(MemoryBudget budget) {
        this.budget = budget;
    }

    /** Allocates a region, or returns null when the budget is exhausted ({@code FULL}). */
    public RemoteRegion allocate(long length) {
        if (length <= 0 || length > MAX_REGION) {
            throw new RemoteMemoryException(RemoteStatus.OUT_OF_RANGE, "region length " + length);
        }
        if (closed) {
            throw new RemoteMemoryException(RemoteStatus.UNAVAILABLE, "region table closed");
        }
        if (!budget.tryReserve(length)) {
            return null;
        }
        NativeMemory mem;
        try {
            mem = NativeMemory.reserve(length);
        } catch (RuntimeException e) {
            budget.release(length);
            throw e;
        }
        long key;
        do {
            key = mix(salt + counter.incrementAndGet());
        } while (key == 0 || regions.putIfAbsent(key, new Region(mem)) != null);
        return new RemoteRegion(key, length);
    }

    public RemoteStatus free(long key) {
        Region r = regions.remove(key);
        if (r == null) {
            return RemoteStatus.BAD_KEY;
        }
        release(r);
        return RemoteStatus.OK;
    }

    private void release(Region r) {
        r.lock.writeLock().lock();
        try {
            if (!r.freed) {
                r.freed = true;
                r.memory.close();
                budget.release(r.seg.byteSize());
            }
        } finally {
            r.lock.writeLock().unlock();
        }
    }

    /** Bounds-checks {@code [offset, offset+length)} against the region; OK or the precise error. */
    public RemoteStatus check(long key, long offset, long length) {
        Region r = regions.get(key);
        if (r == null) {
            return RemoteStatus.BAD_KEY;
        }
        return inRange(r, offset, length) ? RemoteStatus.OK : RemoteStatus.OUT_OF_RANGE;
    }

    private static boolean inRange(Region r, long offset, long length) {
        return offset >= 0 && length >= 0 && offset <= r.seg.byteSize() - length;
    }

    /** Copies region bytes into {@code dst}. */
    public RemoteStatus read(long key, long offset, MemorySegment dst) {
        return access(key, offset, dst, false);
    }

    /** Copies {@code src} into the region. */
    public RemoteStatus write(long key, long offset, MemorySegment src) {
        return access(key, offset, src, true);
    }

    private RemoteStatus access(long key, long offset, MemorySegment local, boolean write) {
        Region r = regions.get(key);
        if (r == null) {
            return RemoteStatus.BAD_KEY;
        }
        long len = local.byteSize();
        if (len > RemoteMemory.MAX_TRANSFER) {
            return RemoteStatus.TOO_LARGE;
        }
        if (!inRange(r, offset, len)) {
            return RemoteStatus.OUT_OF_RANGE;
        }
        r.lock.readLock().lock();
        try {
            if (r.freed) {
                return RemoteStatus.BAD_KEY;
            }
            if (write) {
                MemorySegment.copy(local, 0, r.seg, offset, len);
            } else {
                MemorySegment.copy(r.seg, offset, local, 0, len);
            }
            return RemoteStatus.OK;
        } finally {
            r.lock.readLock().unlock();
        }
    }

    /**
     * Compare-and-swap of the 8-byte word at {@code offset}; the previous value goes to
     * {@code previous[0]}.
     */
    public RemoteStatus compareAndSwap(long key, long offset, long expected, long desired, long[] previous) {
        Region r = regions.get(key);
        if (r == null) {
            return RemoteStatus.BAD_KEY;
        }
        if (!inRange(r, offset, 8)) {
            return RemoteStatus.OUT_OF_RANGE;
        }
        if ((offset & 7) != 0) {
            return RemoteStatus.MISALIGNED;
        }
        r.lock.readLock().lock();
        try {
            if (r.freed) {
                return RemoteStatus.BAD_KEY;
            }
            previous[0] = (long) LONG.compareAndExchange(r.seg, offset, expected, desired);
            return RemoteStatus.OK;
        } finally {
            r.lock.readLock().unlock();
        }
    }

    public int regionCount() {
        return regions.size();
    }

    @Override
    public void close() {
        closed = true;
        for (Long key : regions.keySet()) {
            free(key);
        }
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
