package dev.strata.compute;

import dev.strata.core.BatchFormat;
import dev.strata.core.PageId;
import dev.strata.core.PageSize;
import dev.strata.core.SpareBuffers;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Page deltas committed atomically under one LSN. Changes are applied to the cached page at once
 * (other readers see them: read-uncommitted) and logged at {@link #commit()}; closing a batch that
 * was not committed aborts it and restores the before-images. While a batch is open, the pages it
 * changed are pinned (never evicted or written back) and no other open batch may change them.
 * Changes may come from several threads as long as each page is changed by one of them (a writer
 * spreading its work over disjoint pages): allocate, write and move are synchronized. Commit and
 * abort are one thread's, once the others stopped.
 *
 * <pre>
 * OPEN --commit/commitAsync--> SEALED --log durable--> COMMITTED
 *   \--close (abort)---------> ABORTED
 * </pre>
 */
public final class WriteBatch implements AutoCloseable {
    enum State { OPEN, SEALED, ABORTED }

    /** Before-images' bytes of all batches, off the Java heap (see {@link SpareBuffers}). */
    private static final SpareBuffers UNDO_POOL = new SpareBuffers(2, 64 << 10, 16 << 20);

    private final PageStore store;
    private final BatchFormat.Encoder encoder = new BatchFormat.Encoder();
    private final Set<Long> pages = new LinkedHashSet<>();
    /**
     * Before-images, oldest first: change {@code i} overwrote {@code undoLengths[i]} bytes at {@code undoOffsets[i]}
     * of {@code undoPages.get(i)}; their old bytes follow each other in {@code undoBytes[0, undoEnd)}. Dropped at
     * seal: a sealed batch can no longer abort.
     */
    private final List<PageHandle> undoPages = new ArrayList<>();
    private long[] undoOffsets = new long[64];
    private int[] undoLengths = new int[64];
    private MemorySegment undoBytes = MemorySegment.NULL;
    private long undoEnd;
    /** In allocation order; an abort drops them, so their changes need no before-images. */
    private final Set<Long> allocated = new LinkedHashSet<>();
    private final Set<Long> freed = new LinkedHashSet<>();
    private State state = State.OPEN;
    /** The page {@link #claim} last claimed, and whether this batch allocated it: writes come in runs per page. */
    private long lastPage = -1;
    private boolean lastAllocated;

    WriteBatch(PageStore store) {
        this.store = store;
    }

    /** Allocates a new, zeroed page of {@code pageBytes} (4 KiB .. 256 KiB, a power of two) in this batch. */
    public synchronized long allocate(int pageBytes) {
        checkOpen();
        int sizeClass = PageSize.classOf(pageBytes);
        long pageNo = store.allocateSlot(sizeClass, this);
        allocated.add(pageNo);
        if (pageNo == lastPage) {
            lastPage = -1;
        }
        encoder.alloc(pageNo, sizeClass);
        return store.pageId(pageNo);
    }

    /**
     * Frees page {@code pageId} with this batch: once the batch is durable the page no longer exists
     * ({@link PageStore#isAllocated} is false, fixing it fails), and once a checkpoint has recorded the
     * free its number may be handed out again by {@link #allocate} (as a new, zeroed page). The caller
     * must not change the page in this batch after freeing it, nor keep its id; a latch it holds on the
     * page may be kept until the batch is sealed. An abort keeps the page.
     *
     * @throws IllegalArgumentException if the page is not allocated
     * @throws IllegalStateException    if another open batch changed the page, or this one already freed it
     */
    public synchronized void free(long pageId) {
        checkOpen();
        long pageNo = store.claimFree(pageId, this);
        if (!freed.add(pageNo)) {
            throw new IllegalStateException("page " + PageId.toString(pageId) + " freed twice in one batch");
        }
        if (pageNo == lastPage) {
            lastPage = -1;
        }
        encoder.free(pageNo);
    }

    /** Writes {@code src} at {@code offset} of the page latched exclusively by {@code page}. */
    public synchronized void write(PageHandle page, long offset, MemorySegment src) {
        MemorySegment dst = claim(page, offset, src.byteSize(), "write");
        long len = src.byteSize();
        if (!lastAllocated) {
            saveBeforeImage(page, dst, offset, len);
        }
        encoder.delta(page.pageNo(), (int) offset, src);
        MemorySegment.copy(src, 0, dst, offset, len);
    }

    /**
     * Copies {@code length} bytes of the page latched exclusively by {@code page} from {@code from} to
     * {@code to} (overlapping ranges as memmove does). Logged as the move, not as the bytes: a page
     * compacting or shifting its contents logs a few bytes per moved range.
     */
    public synchronized void move(PageHandle page, long from, long to, long length) {
        MemorySegment dst = claim(page, to, length, "move");
        if (from < 0 || from + length > dst.byteSize()) {
            throw new IndexOutOfBoundsException("move from [" + from + ", +" + length + ") outside page "
                    + PageId.toString(page.pageId()) + " of " + dst.byteSize() + " bytes");
        }
        if (length == 0 || from == to) {
            return;
        }
        if (!lastAllocated) {
            saveBeforeImage(page, dst, to, length);
        }
        encoder.move(page.pageNo(), (int) from, (int) to, (int) length);
        MemorySegment.copy(dst, from, dst, to, length);
    }

    /** Keeps the bytes {@code [offset, +len)} of {@code page} (its segment {@code dst}) that a change overwrites. */
    private void saveBeforeImage(PageHandle page, MemorySegment dst, long offset, long len) {
        int i = undoPages.size();
        if (i == undoOffsets.length) {
            undoOffsets = java.util.Arrays.copyOf(undoOffsets, 2 * i);
            undoLengths = java.util.Arrays.copyOf(undoLengths, 2 * i);
        }
        if (undoBytes.byteSize() == 0) {
            undoBytes = UNDO_POOL.take(len);
        } else if (undoEnd + len > undoBytes.byteSize()) {
            undoBytes = UNDO_POOL.grow(undoBytes, undoEnd, undoEnd + len);
        }
        MemorySegment.copy(dst, offset, undoBytes, undoEnd, len);
        undoPages.add(page);
        undoOffsets[i] = offset;
        undoLengths[i] = (int) len;
        undoEnd += len;
    }

    /** Forgets the before-images and gives their buffer back. */
    private void dropBeforeImages() {
        undoPages.clear();
        undoEnd = 0;
        MemorySegment bytes = undoBytes;
        undoBytes = MemorySegment.NULL;
        UNDO_POOL.recycle(bytes);
    }

    /**
     * Checks a change of {@code [offset, +len)} of {@code page} and claims the page; returns its
     * writable bytes and leaves {@link #lastAllocated} saying whether this batch allocated the page.
     */
    private MemorySegment claim(PageHandle page, long offset, long len, String what) {
        checkOpen();
        if (page.store() != store) {
            throw new IllegalArgumentException("page " + PageId.toString(page.pageId()) + " belongs to another store");
        }
        if (!page.exclusive()) {
            throw new IllegalStateException("page " + PageId.toString(page.pageId())
                    + " is latched shared: writes need fixExclusive");
        }
        if (page.released()) {
            throw new IllegalStateException("page " + PageId.toString(page.pageId()) + " latch already released");
        }
        MemorySegment dst = page.writableSegment();
        if (offset < 0 || len < 0 || offset + len > dst.byteSize()) {
            throw new IndexOutOfBoundsException(what + " [" + offset + ", +" + len + ") outside page "
                    + PageId.toString(page.pageId()) + " of " + dst.byteSize() + " bytes");
        }
        long pageNo = page.pageNo();
        if (pageNo != lastPage) {
            if (freed.contains(pageNo)) {
                throw new IllegalStateException("page " + PageId.toString(page.pageId()) + " was freed in this batch");
            }
            if (!pages.contains(pageNo)) {
                store.claimPage(pageNo, this);
                pages.add(pageNo);
            }
            lastPage = pageNo;
            lastAllocated = allocated.contains(pageNo);
        }
        return dst;
    }

    public void write(PageHandle page, long offset, byte[] src) {
        write(page, offset, MemorySegment.ofArray(src));
    }

    public void putLong(PageHandle page, long offset, long value) {
        byte[] b = new byte[8];
        MemorySegment.ofArray(b).set(ValueLayout.JAVA_LONG_UNALIGNED, 0, value);
        write(page, offset, b);
    }

    /** Number of entries (allocations and deltas) in the batch. */
    public int size() {
        return encoder.count();
    }

    /** Logs the batch and waits until it is durable; returns its LSN (0 for an empty batch). */
    public long commit() {
        return store.await(seal(true));
    }

    /** Logs the batch; the future completes with its LSN once durable. The batch can no longer abort. */
    public CompletableFuture<Long> commitAsync() {
        return seal(false);
    }

    private CompletableFuture<Long> seal(boolean waiting) {
        checkOpen();
        state = State.SEALED;
        dropBeforeImages();
        try {
            return store.commit(this, waiting);
        } catch (RuntimeException e) {
            encoder.discard(); // its buffer, unless the log already took it
            throw e;
        }
    }

    /** Bytes of the batch's log payload ({@link #payload}); read it first. */
    int payloadLength() {
        return encoder.sizeBytes();
    }

    /**
     * The batch's log payload in the first {@link #payloadLength} bytes of the encoder's own native buffer (not a
     * copy: a batch's payload may be megabytes); called once, at commit. The buffer is lent to the log, which hands
     * it back with {@link BatchFormat.Encoder#recycle} once it no longer reads it (see PartitionLog.appendLent).
     */
    MemorySegment payload() {
        return encoder.release();
    }

    /** Pages this batch changed: pinned until it commits or aborts. */
    Set<Long> pages() {
        return pages;
    }

    /** Pages this batch frees. */
    Set<Long> freed() {
        return freed;
    }

    /** Pages this batch allocated (not pinned unless also changed). */
    Set<Long> allocated() {
        return allocated;
    }

    boolean isEmpty() {
        return encoder.count() == 0;
    }

    private void checkOpen() {
        if (state != State.OPEN) {
            throw new IllegalStateException("write batch is " + state.name().toLowerCase());
        }
    }

    /** Aborts the batch if it was not committed: restores before-images, unpins pages. Idempotent. */
    @Override
    public void close() {
        if (state != State.OPEN) {
            return;
        }
        state = State.ABORTED;
        try {
            store.abort(this, allocated);
        } finally {
            dropBeforeImages();
            encoder.discard();
        }
    }

    /**
     * Restores before-images newest first: through the latch the writer still holds on a page (whichever of its
     * handles holds it: the page may have been latched and released again since an older change), else under a
     * new one.
     */
    void restoreBeforeImages() {
        java.util.Map<Long, PageHandle> held = new java.util.HashMap<>();
        for (PageHandle page : undoPages) {
            if (!page.released()) {
                held.put(page.pageNo(), page);
            }
        }
        long end = undoEnd;
        for (int i = undoPages.size() - 1; i >= 0; i--) {
            long pageNo = undoPages.get(i).pageNo();
            int len = undoLengths[i];
            end -= len;
            MemorySegment before = undoBytes.asSlice(end, len);
            PageHandle latch = held.get(pageNo);
            if (latch != null) {
                MemorySegment.copy(before, 0, latch.writableSegment(), undoOffsets[i], len);
            } else {
                store.restoreBytes(pageNo, undoOffsets[i], before);
            }
        }
    }
}
