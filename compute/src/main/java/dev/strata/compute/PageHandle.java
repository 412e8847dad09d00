package dev.strata.compute;

import dev.strata.buffer.PageGuard;
import dev.strata.core.PageId;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A latched page of a {@link PageStore}: shared (read) or exclusive (read, and write through a
 * {@link WriteBatch}). Use in try-with-resources; the latch is released on {@link #close()}.
 * The segment is always read-only: changes go through {@link WriteBatch#write} so that they are
 * logged. Not thread-safe.
 */
public final class PageHandle implements AutoCloseable {
    private final PageStore store;
    private final long pageId;
    private final PageGuard guard;
    private final Runnable onRelease;

    PageHandle(PageStore store, long pageId, PageGuard guard, Runnable onRelease) {
        this.store = store;
        this.pageId = pageId;
        this.guard = guard;
        this.onRelease = onRelease;
    }

    public long pageId() {
        return pageId;
    }

    long pageNo() {
        return PageId.pageNumber(pageId);
    }

    PageStore store() {
        return store;
    }

    public boolean exclusive() {
        return guard.exclusive();
    }

    /** The page's bytes, read-only; valid until {@link #close()}. */
    public MemorySegment segment() {
        return guard.segment().asReadOnly();
    }

    /** The page's bytes, writable: for {@link WriteBatch} only. */
    MemorySegment writableSegment() {
        return guard.segment();
    }

    public int size() {
        return (int) guard.segment().byteSize();
    }

    public long getLong(long offset) {
        return guard.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, offset);
    }

    public byte[] read(long offset, int length) {
        return guard.segment().asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE);
    }

    boolean released() {
        return guard.isReleased();
    }

    /**
     * Releases the latch; an exclusive one with the page marked a first candidate for eviction, for
     * pages that will not be wanted again soon (see {@code BufferPool.unlockExclusiveCold}).
     */
    public void closeCold() {
        if (!guard.isReleased()) {
            guard.closeCold();
            onRelease.run();
        }
    }

    @Override
    public void close() {
        if (!guard.isReleased()) {
            guard.close();
            onRelease.run();
        }
    }
}
