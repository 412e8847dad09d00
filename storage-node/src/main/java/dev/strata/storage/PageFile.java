package dev.strata.storage;

import dev.strata.core.Checksums;
import dev.strata.core.CorruptionException;
import dev.strata.core.PageSize;
import dev.strata.storage.internal.DoubleWriteBuffer;
import dev.strata.storage.internal.NativeFile;
import dev.strata.storage.internal.PageMetaDescriptor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;

/**
 * Page images of one partition in three files: {@code pages.dat} (page {@code p} at offset {@code p * 4096}; a page
 * of class {@code c} spans {@code 1 << c} slots), {@code pages.meta} (one {@link PageMetaDescriptor} slot per
 * 4 KiB slot) and {@code pages.dwb} (the {@link DoubleWriteBuffer}).
 *
 * <p>A write is atomic per page against torn writes: images go to the double-write buffer first (fsynced), then in
 * place (data and meta pwrites, both fsynced). On open, every entry of the last double-write batch whose in-place
 * copy fails its CRC or is older is written back.
 *
 * <p>Thread-safe: writers are serialized; readers run concurrently with each other and with a writer's fsyncs,
 * and are excluded only while pages are being overwritten in place, so a read never sees a half-written page.
 * Interrupt-safe: the files are {@link NativeFile}s, so interrupting a reading or writing thread (say, one whose
 * buffer-pool miss lands here) neither fails the call nor closes the files for everyone else, as an interruptible
 * {@code FileChannel} would. A native destination or source segment (a buffer-pool frame) is read into or written
 * from directly.
 */
public final class PageFile implements AutoCloseable {
    /** Page numbers are 48 bits ({@link dev.strata.core.PageId}). */
    public static final long MAX_PAGE_NO = (1L << 48) - 1;
    private static final int SCAN_SLOTS = 4096;

    private final NativeFile data;
    private final NativeFile meta;
    private final DoubleWriteBuffer dwb;
    private final ReentrantLock writers = new ReentrantLock();
    private final ReentrantReadWriteLock inPlace = new ReentrantReadWriteLock();
    private volatile long slotsInUse;
    private boolean closed; // guarded by writers

    private PageFile(NativeFile data, NativeFile meta, DoubleWriteBuffer dwb) {
        this.data = data;
        this.meta = meta;
        this.dwb = dwb;
    }

    /** Opens (creating if absent) the page file in {@code dir} and repairs torn pages from the double-write buffer. */
    public static PageFile open(Path dir) throws IOException {
        Files.createDirectories(dir);
        NativeFile data = NativeFile.openOrCreate(dir.resolve("pages.dat"));
        NativeFile meta = null;
        DoubleWriteBuffer dwb = null;
        try {
            meta = NativeFile.openOrCreate(dir.resolve("pages.meta"));
            dwb = new DoubleWriteBuffer(dir.resolve("pages.dwb"));
        } catch (IOException | RuntimeException e) {
            closeQuietly(meta);
            closeQuietly(data);
            throw e;
        }
        PageFile file = new PageFile(data, meta, dwb);
        try {
            file.repair();
            file.slotsInUse = file.scanSlotsInUse();
        } catch (IOException | RuntimeException e) {
            file.close();
            throw e;
        }
        return file;
    }

    static void checkPageNo(long pageNo) {
        if (pageNo < 0 || pageNo > MAX_PAGE_NO) {
            throw new IllegalArgumentException("page number out of range [0, 2^48): " + pageNo);
        }
    }

    private void repair() throws IOException {
        boolean repaired = false;
        for (DoubleWriteBuffer.Entry entry : dwb.readLastBatch()) {
            PageMeta current = meta(entry.pageNo());
            MemorySegment inPlace = MemorySegment.ofArray(new byte[PageSize.bytes(entry.sizeClass())]);
            readFully(data, inPlace, entry.pageNo() * PageSize.BASE);
            boolean intact = current.sizeClass() == entry.sizeClass() && current.crc() == Checksums.crc32c(inPlace);
            if (!intact || current.lsn() < entry.lsn()) {
                writeInPlace(entry);
                repaired = true;
            }
        }
        if (repaired) {
            data.fdatasync();
            meta.fdatasync();
        }
        dwb.discardStale();
    }

    /**
     * Reads a page into {@code dst} and returns its LSN. A page never written (or freed) reads as zeros with LSN 0.
     *
     * @throws IllegalArgumentException if {@code dst} is not exactly the page's size
     * @throws CorruptionException      if the stored image fails its CRC32C
     */
    public long read(long pageNo, MemorySegment dst) throws IOException {
        checkPageNo(pageNo);
        inPlace.readLock().lock();
        try {
            PageMeta m = meta(pageNo);
            if (!m.allocated()) {
                PageSize.classOf(Math.toIntExact(Math.min(dst.byteSize(), Integer.MAX_VALUE)));
                dst.fill((byte) 0);
                return 0;
            }
            if (dst.byteSize() != PageSize.bytes(m.sizeClass())) {
                throw new IllegalArgumentException("page " + pageNo + " has " + PageSize.bytes(m.sizeClass())
                        + " bytes, dst has " + dst.byteSize());
            }
            readFully(data, dst, pageNo * PageSize.BASE);
            if (Checksums.crc32c(dst) != m.crc()) {
                throw new CorruptionException("page " + pageNo + " (lsn " + m.lsn() + ") fails its CRC32C");
            }
            return m.lsn();
        } finally {
            inPlace.readLock().unlock();
        }
    }

    /**
     * A hint that page {@code pageNo} will be {@link #read} soon: the kernel starts reading its image into the page
     * cache ({@code POSIX_FADV_WILLNEED}) and this returns without waiting. Does nothing for a page never written,
     * or if the hint cannot be given (a closed file, an I/O error reading the page's metadata).
     */
    public void willNeed(long pageNo) {
        checkPageNo(pageNo);
        try {
            PageMeta m = meta(pageNo);
            if (m.allocated()) {
                data.willNeed(pageNo * PageSize.BASE, PageSize.bytes(m.sizeClass()));
            }
        } catch (IOException e) {
            // a hint: the read that follows reports the error
        }
    }

    /**
     * Writes pages durably and atomically per page: double-write buffer + fsync, then in place + fsync, in chunks
     * of at most {@link DoubleWriteBuffer#CAPACITY} bytes. Durable on return.
     */
    public void write(List<PageImage> pages) throws IOException {
        writers.lock();
        try {
            checkOpen();
            int from = 0;
            while (from < pages.size()) {
                List<DoubleWriteBuffer.Entry> chunk = new ArrayList<>();
                int bytes = 0;
                for (; from < pages.size(); from++) {
                    PageImage page = pages.get(from);
                    int length = DoubleWriteBuffer.entryLength(page.sizeClass());
                    if (!chunk.isEmpty() && bytes + length > DoubleWriteBuffer.CAPACITY) {
                        break;
                    }
                    bytes += length;
                    chunk.add(new DoubleWriteBuffer.Entry(page.pageNo(), page.lsn(), Checksums.crc32c(page.bytes()),
                            page.sizeClass(), page.bytes()));
                }
                writeChunk(chunk);
            }
        } finally {
            writers.unlock();
        }
    }

    private void writeChunk(List<DoubleWriteBuffer.Entry> chunk) throws IOException {
        dwb.write(chunk);
        inPlace.writeLock().lock();
        try {
            for (DoubleWriteBuffer.Entry entry : chunk) {
                writeInPlace(entry);
            }
        } finally {
            inPlace.writeLock().unlock();
        }
        data.fdatasync();
        meta.fdatasync();
    }

    private void writeInPlace(DoubleWriteBuffer.Entry entry) throws IOException {
        data.write(entry.pageNo() * PageSize.BASE, entry.image());
        writeMeta(entry.pageNo(), entry.lsn(), entry.imageCrc(), entry.sizeClass(), true);
        long end = entry.pageNo() + PageSize.slots(entry.sizeClass());
        if (end > slotsInUse) {
            slotsInUse = end;
        }
    }

    /** The metadata of the page headed at {@code pageNo}; {@code allocated=false} and LSN 0 if never written. */
    public PageMeta meta(long pageNo) throws IOException {
        checkPageNo(pageNo);
        byte[] slot = new byte[PageMetaDescriptor.LENGTH]; // a slot past the end of the file reads as zeros
        meta.read(pageNo * PageMetaDescriptor.LENGTH, MemorySegment.ofArray(slot));
        return decode(pageNo, ByteBuffer.wrap(slot).order(ByteOrder.LITTLE_ENDIAN), 0);
    }

    private static PageMeta decode(long pageNo, ByteBuffer buf, int at) {
        return new PageMeta(pageNo, PageMetaDescriptor.lsn(buf, at), PageMetaDescriptor.crc(buf, at),
                PageMetaDescriptor.sizeClass(buf, at), PageMetaDescriptor.allocated(buf, at));
    }

    private void writeMeta(long pageNo, long lsn, int crc, int sizeClass, boolean allocated) throws IOException {
        ByteBuffer slot = ByteBuffer.allocate(PageMetaDescriptor.LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        PageMetaDescriptor.encode(slot, 0, lsn, crc, sizeClass, allocated);
        meta.write(pageNo * PageMetaDescriptor.LENGTH, MemorySegment.ofArray(slot.array()));
    }

    /** Visits the metadata of every allocated page head in page order. */
    public void forEachAllocated(Consumer<PageMeta> visitor) throws IOException {
        byte[] bytes = new byte[SCAN_SLOTS * PageMetaDescriptor.LENGTH];
        ByteBuffer chunk = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long size = meta.size();
        for (long first = 0; first * PageMetaDescriptor.LENGTH < size; first += SCAN_SLOTS) {
            List<PageMeta> found = new ArrayList<>();
            long read;
            inPlace.readLock().lock();
            try {
                read = meta.read(first * PageMetaDescriptor.LENGTH, MemorySegment.ofArray(bytes));
            } finally {
                inPlace.readLock().unlock();
            }
            int slots = (int) (read / PageMetaDescriptor.LENGTH);
            for (int i = 0; i < slots; i++) {
                if (PageMetaDescriptor.allocated(chunk, i * PageMetaDescriptor.LENGTH)) {
                    found.add(decode(first + i, chunk, i * PageMetaDescriptor.LENGTH));
                }
            }
            found.forEach(visitor);
        }
    }

    /** Clears the allocated flag of the page headed at {@code pageNo}, durably. A page not allocated is left as is. */
    public void markFreed(long pageNo) throws IOException {
        checkPageNo(pageNo);
        writers.lock();
        try {
            checkOpen();
            PageMeta m = meta(pageNo);
            if (!m.allocated()) {
                return;
            }
            inPlace.writeLock().lock();
            try {
                writeMeta(pageNo, m.lsn(), m.crc(), m.sizeClass(), false);
            } finally {
                inPlace.writeLock().unlock();
            }
            meta.fdatasync();
            if (pageNo + PageSize.slots(m.sizeClass()) >= slotsInUse) {
                slotsInUse = scanSlotsInUse();
            }
        } finally {
            writers.unlock();
        }
    }

    /** One past the highest 4 KiB slot covered by an allocated page; 0 if none. */
    public long slotsInUse() {
        return slotsInUse;
    }

    private long scanSlotsInUse() throws IOException {
        long[] end = {0};
        forEachAllocated(m -> end[0] = Math.max(end[0], m.pageNo() + PageSize.slots(m.sizeClass())));
        return end[0];
    }

    private static void readFully(NativeFile file, MemorySegment dst, long position) throws IOException {
        long read = file.read(position, dst);
        if (read < dst.byteSize()) {
            dst.asSlice(read).fill((byte) 0); // past end of file: never written
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("page file is closed");
        }
    }

    /** Closes the files. Idempotent; waits for a write in progress. */
    @Override
    public void close() {
        writers.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            closeQuietly(dwb);
            closeQuietly(meta);
            closeQuietly(data);
        } finally {
            writers.unlock();
        }
    }

    private static void closeQuietly(AutoCloseable closeable) {
        if (closeable == null) {
            return;
        }
        try {
            closeable.close();
        } catch (Exception ignored) {
            // read-only at this point: every write was fsynced before returning
        }
    }
}
