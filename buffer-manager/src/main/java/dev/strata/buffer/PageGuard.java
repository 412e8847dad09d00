package dev.strata.buffer;

import java.lang.foreign.MemorySegment;

/**
 * A shared or exclusive latch on one resident page, released by {@link #close()}. Borrow, never
 * hold: use in try-with-resources. Closing twice is harmless. Not thread-safe: one guard, one thread.
 */
public final class PageGuard implements AutoCloseable {
    private final BufferPool pool;
    private final long pageNo;
    private final boolean exclusive;
    private boolean released;

    PageGuard(BufferPool pool, long pageNo, boolean exclusive) {
        this.pool = pool;
        this.pageNo = pageNo;
        this.exclusive = exclusive;
    }

    public long pageNo() {
        return pageNo;
    }

    public boolean exclusive() {
        return exclusive;
    }

    /** True once {@link #close()} released the latch. */
    public boolean isReleased() {
        return released;
    }

    /** The page's bytes; valid only until {@link #close()}. Writable only under an exclusive guard. */
    public MemorySegment segment() {
        if (released) {
            throw new IllegalStateException("page " + pageNo + " guard already released");
        }
        MemorySegment page = pool.page(pageNo);
        return exclusive ? page : page.asReadOnly();
    }

    /**
     * Releases the latch like {@link #close()}; an exclusive latch is released with the page marked
     * a first candidate for eviction ({@link BufferPool#unlockExclusiveCold}).
     */
    public void closeCold() {
        if (!released && exclusive) {
            released = true;
            pool.unlockExclusiveCold(pageNo);
        } else {
            close();
        }
    }

    @Override
    public void close() {
        if (!released) {
            released = true;
            if (exclusive) {
                pool.unlockExclusive(pageNo);
            } else {
                pool.unlockShared(pageNo);
            }
        }
    }
}
