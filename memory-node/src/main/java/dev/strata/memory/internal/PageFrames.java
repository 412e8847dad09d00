package dev.strata.memory.internal;

import dev.strata.core.Checksums;
import dev.strata.core.PageId;
import dev.strata.core.PageSize;
import dev.strata.core.remote.MemoryBudget;
import dev.strata.core.remote.RemoteMemoryException;
import dev.strata.core.remote.RemoteStatus;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * The page-frame table of one memory node: {@code PageId → (frame, size class, LSN, CRC32C)}, the
 * frames themselves, and the per-partition epochs that fence deposed owners.
 *
 * <p>Rules: a put is refused with {@code STALE_EPOCH} when its epoch is below the highest seen for
 * its partition, and with {@code CORRUPT} when its bytes do not match its CRC32C; a put older than
 * the stored copy (same epoch, lower LSN) is ignored ({@code STALE_LSN}), while a put of a higher
 * epoch replaces the copy whatever its LSN (a new owner may have cut a deposed owner's log tail, so
 * that owner's LSNs say nothing about the new one's); a put of a page already held
 * overwrites its frame in place, so only a new page can be refused with {@code FULL}.
 *
 * <p>Thread-safe: each page is guarded by one of {@value #STRIPES} striped monitors, so a get never
 * copies a half-written frame. {@link #fence} passes every stripe once after raising the epoch, so
 * when it returns no put with a lower epoch is still running.
 */
public final class PageFrames implements AutoCloseable {
    static final int STRIPES = 1024;

    private static final class Frame {
        final long offset;
        final int sizeClass;
        long lsn;
        long epoch;
        int crc;

        Frame(long offset, int sizeClass) {
            this.offset = offset;
            this.sizeClass = sizeClass;
        }
    }

    private final ConcurrentHashMap<Long, Frame> table = new ConcurrentHashMap<>();
    private final Object[] stripes = new Object[STRIPES];
    private final AtomicLongArray epochs = new AtomicLongArray(PageId.MAX_PARTITION + 1);
    private final FrameAllocator frames;
    private final MemorySegment mem;
    final LongAdder gets = new LongAdder();
    final LongAdder hits = new LongAdder();
    final LongAdder puts = new LongAdder();
    final LongAdder full = new LongAdder();
    final LongAdder staleEpoch = new LongAdder();
    final LongAdder staleLsn = new LongAdder();
    final LongAdder corrupt = new LongAdder();
    private volatile boolean closed;

    public PageFrames(long capacityBytes, MemoryBudget budget, boolean hugePages) {
        this.frames = new FrameAllocator(capacityBytes, budget, hugePages);
        this.mem = frames.memory();
        for (int i = 0; i < STRIPES; i++) {
            stripes[i] = new Object();
        }
    }

    private Object stripe(long pageId) {
        long h = pageId * 0x9E3779B97F4A7C15L;
        return stripes[(int) (h >>> 54)];
    }

    /**
     * Copies page {@code pageId} into {@code dst} (exactly one page of {@code sizeClass}).
     *
     * @return the page's LSN in the low bits and nothing else, or -1 when not held (or held with
     *     another size class); {@code crcOut[0]} receives the stored CRC32C
     */
    public long get(long pageId, int sizeClass, MemorySegment dst, int[] crcOut) {
        gets.increment();
        synchronized (stripe(pageId)) {
            checkOpen();
            Frame f = table.get(pageId);
            if (f == null || f.sizeClass != sizeClass || dst.byteSize() != PageSize.bytes(sizeClass)) {
                return -1;
            }
            MemorySegment.copy(mem, f.offset, dst, 0, dst.byteSize());
            crcOut[0] = f.crc;
            hits.increment();
            return f.lsn;
        }
    }

    /** Stores a page image whose CRC32C the sender computed as {@code crc}. */
    public RemoteStatus put(long pageId, long epoch, long lsn, int crc, MemorySegment src) {
        int sizeClass = PageSize.classOf((int) src.byteSize());
        if (Checksums.crc32c(src) != crc) {
            corrupt.increment();
            return RemoteStatus.CORRUPT;
        }
        int partition = PageId.partition(pageId);
        synchronized (stripe(pageId)) {
            checkOpen();
            if (!admit(partition, epoch)) {
                staleEpoch.increment();
                return RemoteStatus.STALE_EPOCH;
            }
            Frame f = table.get(pageId);
            if (f != null && epoch == f.epoch && lsn < f.lsn) {
                staleLsn.increment();
                return RemoteStatus.STALE_LSN;
            }
            if (f != null && f.sizeClass != sizeClass) {
                table.remove(pageId);
                frames.free(f.offset, f.sizeClass);
                f = null;
            }
            if (f == null) {
                long off = frames.allocate(sizeClass);
                if (off < 0) {
                    full.increment();
                    return RemoteStatus.FULL;
                }
                f = new Frame(off, sizeClass);
                table.put(pageId, f);
            }
            MemorySegment.copy(src, 0, mem, f.offset, src.byteSize());
            f.lsn = lsn;
            f.epoch = epoch;
            f.crc = crc;
            puts.increment();
            return RemoteStatus.OK;
        }
    }

    public RemoteStatus free(long pageId, long epoch) {
        synchronized (stripe(pageId)) {
            checkOpen();
            if (!admit(PageId.partition(pageId), epoch)) {
                staleEpoch.increment();
                return RemoteStatus.STALE_EPOCH;
            }
            Frame f = table.remove(pageId);
            if (f == null) {
                return RemoteStatus.NOT_FOUND;
            }
            frames.free(f.offset, f.sizeClass);
            return RemoteStatus.OK;
        }
    }

    /** Raises the partition's epoch; on return no put of a lower epoch is in progress. */
    public long fence(int partition, long epoch) {
        raise(partition, epoch);
        for (Object s : stripes) {
            synchronized (s) {
                // barrier: a put that admitted a lower epoch holds its stripe until it is done
            }
        }
        return epochs.get(partition);
    }

    private boolean admit(int partition, long epoch) {
        return raise(partition, epoch) <= epoch;
    }

    /** Raises the partition's epoch to {@code epoch} if lower; returns the epoch now held. */
    private long raise(int partition, long epoch) {
        while (true) {
            long cur = epochs.get(partition);
            if (epoch <= cur || epochs.compareAndSet(partition, cur, epoch)) {
                return Math.max(cur, epoch);
            }
        }
    }

    public long epoch(int partition) {
        return epochs.get(partition);
    }

    public long pages() {
        return table.size();
    }

    private void checkOpen() {
        if (closed) {
            throw new RemoteMemoryException(RemoteStatus.UNAVAILABLE, "memory node closed");
        }
    }

    /** Unmaps the frames once no operation is running (each holds its stripe); later ones fail UNAVAILABLE. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Object s : stripes) {
            synchronized (s) {
                // barrier: wait out operations that entered before the flag
            }
        }
        frames.close();
    }
}
