package dev.strata.storage;

import dev.strata.core.Checksums;
import dev.strata.core.CorruptionException;
import dev.strata.core.LzCodec;
import dev.strata.core.PageSize;
import dev.strata.storage.internal.DoubleWriteBuffer;
import dev.strata.storage.internal.NativeFile;
import dev.strata.storage.internal.PageMetaDescriptor;
import dev.strata.storage.internal.ThreadBuffer;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;

/**
 * Page images of one partition in two files: {@code pages.dat}, the images (a page of class {@code c} spans
 * {@code 1 << c} 4 KiB slots), and {@code pages.meta}, one {@link PageMetaDescriptor} per 4 KiB slot (LSN,
 * CRC32C, size class, allocated, and which of the page's two image slots is current).
 *
 * <h2>Layout</h2>
 * Each page has two image slots in {@code pages.dat}, A and B, {@link #SLOT_B_BASE} (8 TiB) apart:
 * <pre>
 *  pages.dat (sparse)
 *  0                                  8 TiB = SLOT_B_BASE                     8 TiB + slotLimit * 4 KiB
 *  +----------------------------------+---------------------------------------+
 *  | slot A of page p at p * 4 KiB    | slot B of page p at 8 TiB + p * 4 KiB |
 *  +----------------------------------+---------------------------------------+
 * </pre>
 * Slot A is where stores written before out-of-place writes kept every image, and their descriptors name it, so
 * they read as they are. Both slots sit in one file so that a write needs one data {@code fdatasync}, not two.
 * A page must end within {@link #slotLimit()} 4 KiB slots: at most 2<sup>31</sup> (8 TiB of pages, or slot A
 * would run into slot B's region), and fewer where the file system caps a file below 16 TiB, so that slot B
 * fits (ext4 with 4 KiB blocks caps at 16 TiB - 4 KiB: 2<sup>31</sup> - 1 slots). The cap is found on open by
 * probing the file system with a scratch file ({@code pages.probe}, deleted again); a write of a page past the
 * limit fails with an {@link IllegalArgumentException} before any I/O.
 *
 * <p>Space: the file is sparse. Its apparent size is 8 TiB plus the highest slot B written; the blocks it uses are
 * the pages' size for pages written once, and up to twice that for pages rewritten, since the stale slot keeps its
 * blocks (no hole is punched). Tools that copy a store must keep holes ({@code cp --sparse=always},
 * {@code tar -S}, {@code rsync -S}).
 *
 * <h2>Writes, out of place</h2>
 * {@link #write} puts each image in the slot its page's descriptor on disk does not name, {@code fdatasync}s
 * {@code pages.dat}, then, holding the descriptor lock exclusively, rewrites each descriptor to name that slot with
 * the new LSN and CRC, and {@code fdatasync}s {@code pages.meta}: every image is written once, with two
 * {@code fdatasync}s per chunk of at most {@link #MAX_CHUNK_BYTES}. {@link #writeDeferred} writes the images the
 * same way but keeps their new descriptors in memory, pending, until {@link #sync} (or until
 * {@link #SYNC_PENDING_BYTES} of them are pending) does the two {@code fdatasync}s and the switches for all of
 * them at once; readers go by the pending descriptors meanwhile. A page written again while its descriptor is
 * pending is written over its pending image (the durable one still names the other slot), with readers of the
 * file held off for that write. A freed page keeps its slot bit, so the rule is
 * the same for every page: write the slot the descriptor does not name (a page never written names A, so its first
 * image goes to B).
 *
 * <h2>Compression</h2>
 * A file opened with compression ({@link #open(Path)} does) compresses each image of more than 4 KiB with
 * {@link LzCodec} and stores it compressed when that saves at least one 4 KiB block. The image slot then holds,
 * from its start, the compressed form rounded up to whole blocks:
 * <pre>
 *  +----------------+--------------------+-------------------------+--------------------------+
 *  | "LZ01" (4 B)   | block length (u32) | LzCodec block           | zeros to a 4 KiB boundary |
 *  +----------------+--------------------+-------------------------+--------------------------+
 * </pre>
 * and its descriptor carries the compressed flag and the number of blocks; its CRC covers those blocks. Only
 * the blocks are written and read back, so a page that compresses 4:1 costs a quarter of the I/O (the slot
 * keeps its full size in the file's address space; the blocks past the stored ones are not touched). Reads
 * understand both forms whatever the file was opened with, and images written before compression existed read
 * as they are.
 *
 * <h2>Crash safety</h2>
 * Assumed: a 16-byte descriptor {@code pwrite} (never crossing a 512-byte boundary) reaches the device whole or
 * not at all, i.e. sector writes are atomic. Then a descriptor only ever names an intact image: a slot is written
 * only while its page's descriptor on disk names the other slot (and readers hold the descriptor lock across their
 * descriptor and image reads, so none still reads a slot once it stopped being current, or while its pending
 * image is rewritten); a descriptor is switched to a slot only after that slot's image is durable; and a switch is
 * durable before {@link #write} or {@link #sync} returns. A crash
 * before a descriptor switch reached the disk leaves it naming the previous image, untouched since; after, the new
 * one. So each page of a write reads as before or after it (atomic per page, not per call, as with the double-write
 * buffer before); the LSN says which, and the log redoes the rest. The CRC still catches real corruption of the
 * current image. Opening {@code fdatasync}s both files first, so that descriptors a killed process switched only in
 * the page cache are durable before this one writes the slots they stopped naming. If a sync's {@code fdatasync}
 * or descriptor write fails, the file refuses further writes until reopened: the next write of a page could
 * otherwise overwrite the slot its durable descriptor still names, or switch a descriptor to an image the failed
 * {@code fdatasync} left off the disk. A crash with descriptors pending loses those writes only: each page then
 * reads as at the last sync.
 *
 * <h2>Stores of the previous version</h2>
 * A store that still has a double-write buffer ({@code pages.dwb}) is repaired from it once on open, as the previous
 * version did (pages whose current image fails its CRC or is older than the buffer's are rewritten, now out of
 * place); then both files are {@code fdatasync}ed and the buffer deleted (and the directory {@code fsync}ed). New
 * stores never create one.
 *
 * <h2>Concurrency</h2>
 * Thread-safe: writers are serialized (each compresses and checksums its images first, concurrently with the
 * others); readers run concurrently with each other and with a writer's image writes
 * and {@code fdatasync}s, and are excluded only while descriptors are being switched. Interrupt-safe: the files are
 * {@link NativeFile}s, so interrupting a reading or writing thread (say, one whose buffer-pool miss lands here)
 * neither fails the call nor closes the files for everyone else, as an interruptible {@code FileChannel} would. A
 * native destination or source segment (a buffer-pool frame) is read into or written from directly.
 */
public final class PageFile implements AutoCloseable {
    /** Page numbers are 48 bits ({@link dev.strata.core.PageId}); see {@link #slotLimit()} for this file's bound. */
    public static final long MAX_PAGE_NO = (1L << 48) - 1;
    /** Offset in {@code pages.dat} of slot B of page 0 (8 TiB); slot B of page {@code p} is {@code p * 4096} on. */
    public static final long SLOT_B_BASE = 1L << 43;
    /** Largest chunk of images written before their descriptors are switched (one more if a single page is larger). */
    public static final int MAX_CHUNK_BYTES = 64 << 20;
    private static final int SCAN_SLOTS = 4096;
    private static final int D = PageMetaDescriptor.LENGTH;

    /** Test hook: see {@link #onFlip}. */
    @FunctionalInterface
    interface FlipHook {
        void reached(int descriptorsWritten) throws IOException;
    }

    private final NativeFile data;
    private final NativeFile meta;
    private final long slotLimit;
    private final boolean compress;
    private final LongAdder imageBytes = new LongAdder();
    private final LongAdder storedBytes = new LongAdder();
    private final ReentrantLock writers = new ReentrantLock();
    /**
     * Shared by a reader across its descriptor and image reads; exclusive while descriptors are switched or made
     * pending, and while a pending image is rewritten.
     */
    private final ReentrantReadWriteLock flipLock = new ReentrantReadWriteLock();
    private volatile long slotsInUse;
    private boolean closed; // guarded by writers
    private boolean descriptorsInDoubt; // guarded by writers
    private FlipHook flipHook = n -> {}; // guarded by writers
    /**
     * Descriptors of images written by {@link #writeDeferred} and not yet switched in {@code pages.meta}, by page:
     * what readers go by until {@link #sync}. Changed under {@code writers} and the flip lock's write lock; looked
     * up by readers under its read lock (or, for hints, without).
     */
    private final java.util.concurrent.ConcurrentHashMap<Long, byte[]> pending =
            new java.util.concurrent.ConcurrentHashMap<>();
    private long pendingStoredBytes; // guarded by writers
    /** A deferred write syncs once this many stored bytes, or {@link #SYNC_PENDING_PAGES} pages, are pending. */
    static final long SYNC_PENDING_BYTES = 32L << 20;
    static final int SYNC_PENDING_PAGES = 8192;

    private PageFile(NativeFile data, NativeFile meta, long slotLimit, boolean compress) {
        this.data = data;
        this.meta = meta;
        this.slotLimit = slotLimit;
        this.compress = compress;
    }

    /** {@link #open(Path, boolean)} with compression. */
    public static PageFile open(Path dir) throws IOException {
        return open(dir, true);
    }

    /**
     * Opens (creating if absent) the page file in {@code dir}. Repairs and then deletes a double-write buffer left
     * by the previous version.
     *
     * @param compress whether images written from now on are stored compressed where that saves space (see the
     *                 class comment); images are read either way
     * @throws IOException if the file system cannot hold a file larger than 8 TiB, or the store holds pages past
     *                     {@link #slotLimit()}
     */
    public static PageFile open(Path dir, boolean compress) throws IOException {
        Files.createDirectories(dir);
        long maxFileSize = NativeFile.maxFileSize(dir.resolve("pages.probe"), 2 * SLOT_B_BASE, PageSize.BASE);
        long slotLimit = Math.min(SLOT_B_BASE, maxFileSize - SLOT_B_BASE) / PageSize.BASE;
        if (slotLimit <= 0) {
            throw new IOException("the file system of " + dir + " caps files at " + maxFileSize
                    + " bytes; pages.dat needs more than " + SLOT_B_BASE
                    + " (slot B of page p is at 8 TiB + p * 4 KiB)");
        }
        NativeFile data = NativeFile.openOrCreate(dir.resolve("pages.dat"));
        NativeFile meta;
        try {
            meta = NativeFile.openOrCreate(dir.resolve("pages.meta"));
        } catch (IOException | RuntimeException e) {
            closeQuietly(data);
            throw e;
        }
        PageFile file = new PageFile(data, meta, slotLimit, compress);
        try {
            // what a killed process left in the page cache becomes durable before anything relies on it
            data.fdatasync();
            meta.fdatasync();
            file.repairLegacy(dir);
            file.slotsInUse = file.scanSlotsInUse();
            if (file.slotsInUse > slotLimit) {
                throw new IOException("page file " + dir + " holds pages up to 4 KiB slot " + file.slotsInUse
                        + ", past its limit of " + slotLimit + " slots");
            }
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

    /** Repairs from the double-write buffer of the previous version, if there is one, and deletes it. */
    private void repairLegacy(Path dir) throws IOException {
        Path dwb = dir.resolve("pages.dwb");
        if (!Files.exists(dwb)) {
            return;
        }
        List<PageImage> repairs = new ArrayList<>();
        for (DoubleWriteBuffer.Entry entry : DoubleWriteBuffer.readLastBatch(dwb)) {
            ByteBuffer d = descriptor(entry.pageNo());
            MemorySegment current = MemorySegment.ofArray(new byte[PageSize.bytes(entry.sizeClass())]);
            readFully(data, current, imageOffset(entry.pageNo(), PageMetaDescriptor.slotB(d, 0)));
            boolean intact = PageMetaDescriptor.sizeClass(d, 0) == entry.sizeClass()
                    && PageMetaDescriptor.crc(d, 0) == Checksums.crc32c(current);
            if (!intact || PageMetaDescriptor.lsn(d, 0) < entry.lsn()) {
                repairs.add(new PageImage(entry.pageNo(), entry.sizeClass(), entry.lsn(), entry.image()));
            }
        }
        write(repairs); // durable on return; the rest was synced by open, so the buffer may go now
        Files.delete(dwb);
        NativeFile.fsyncDirectory(dir);
    }

    /**
     * Reads a page into {@code dst} and returns its LSN. A page never written (or freed) reads as zeros with LSN 0.
     *
     * @throws IllegalArgumentException if {@code dst} is not exactly the page's size
     * @throws CorruptionException      if the stored image fails its CRC32C
     */
    public long read(long pageNo, MemorySegment dst) throws IOException {
        checkPageNo(pageNo);
        flipLock.readLock().lock();
        try {
            ByteBuffer d = descriptor(pageNo);
            if (!PageMetaDescriptor.allocated(d, 0)) {
                PageSize.classOf(Math.toIntExact(Math.min(dst.byteSize(), Integer.MAX_VALUE)));
                dst.fill((byte) 0);
                return 0;
            }
            int sizeClass = PageMetaDescriptor.sizeClass(d, 0);
            if (dst.byteSize() != PageSize.bytes(sizeClass)) {
                throw new IllegalArgumentException("page " + pageNo + " has " + PageSize.bytes(sizeClass)
                        + " bytes, dst has " + dst.byteSize());
            }
            boolean slotB = PageMetaDescriptor.slotB(d, 0);
            if ((PageMetaDescriptor.flags(d, 0) & ~PageMetaDescriptor.KNOWN_FLAGS) != 0) {
                throw new CorruptionException("page " + pageNo + " has a descriptor with unknown flags "
                        + PageMetaDescriptor.flags(d, 0) + " (written by a newer version?)");
            }
            if (PageMetaDescriptor.compressed(d, 0)) {
                readCompressed(pageNo, d, dst);
                return PageMetaDescriptor.lsn(d, 0);
            }
            readFully(data, dst, imageOffset(pageNo, slotB));
            if (Checksums.crc32c(dst) != PageMetaDescriptor.crc(d, 0)) {
                throw new CorruptionException("page " + pageNo + " (lsn " + PageMetaDescriptor.lsn(d, 0) + ", slot "
                        + (slotB ? "B" : "A") + ") fails its CRC32C");
            }
            return PageMetaDescriptor.lsn(d, 0);
        } finally {
            flipLock.readLock().unlock();
        }
    }

    private static final int LZ_MAGIC = 0x31305A4C; // "LZ01" little endian
    private static final int LZ_HEADER = 8;

    /** Reads a compressed image (the caller holds the flip lock) and decompresses it into {@code dst}. */
    private void readCompressed(long pageNo, ByteBuffer d, MemorySegment dst) throws IOException {
        int blocks = PageMetaDescriptor.storedBlocks(d, 0);
        boolean slotB = PageMetaDescriptor.slotB(d, 0);
        long stored = (long) blocks * PageSize.BASE;
        if (blocks == 0 || stored >= dst.byteSize()) {
            throw new CorruptionException(describe(pageNo, d) + " claims " + blocks + " stored blocks for a page of "
                    + dst.byteSize() + " bytes");
        }
        MemorySegment buf = readBuffer(stored);
        readFully(data, buf, imageOffset(pageNo, slotB));
        if (Checksums.crc32c(buf) != PageMetaDescriptor.crc(d, 0)) {
            throw new CorruptionException(describe(pageNo, d) + " fails its CRC32C");
        }
        int magic = buf.get(ValueLayout.JAVA_INT_UNALIGNED, 0);
        long length = Integer.toUnsignedLong(buf.get(ValueLayout.JAVA_INT_UNALIGNED, 4));
        if (magic != LZ_MAGIC || length > stored - LZ_HEADER) {
            throw new CorruptionException(describe(pageNo, d) + " has a bad header (magic "
                    + Integer.toHexString(magic) + ", length " + length + " in " + stored + " stored bytes)");
        }
        try {
            LzCodec.decompress(buf.asSlice(LZ_HEADER, length), dst);
        } catch (CorruptionException e) {
            throw new CorruptionException(describe(pageNo, d) + ": " + e.getMessage());
        }
    }

    private static String describe(long pageNo, ByteBuffer d) {
        return "page " + pageNo + " (lsn " + PageMetaDescriptor.lsn(d, 0) + ", slot "
                + (PageMetaDescriptor.slotB(d, 0) ? "B" : "A") + ", compressed)";
    }

    /** Per reading thread, for compressed images: freeing native memory per read costs more than decoding. */
    private static final ThreadLocal<ThreadBuffer> READ_BUFFER =
            ThreadLocal.withInitial(() -> new ThreadBuffer(1 << 16, PageSize.BASE));

    private static MemorySegment readBuffer(long bytes) {
        return READ_BUFFER.get().atLeast(bytes).asSlice(0, bytes);
    }

    /**
     * Per writing thread: the codec, and the buffer its compressed images go to (compression runs before the
     * writers lock is taken; a buffer kept per thread, because allocating and freeing native memory per page
     * costs more than compressing it).
     */
    private static final ThreadLocal<LzCodec> CODEC = ThreadLocal.withInitial(LzCodec::new);
    private static final ThreadLocal<ThreadBuffer> PACK_BUFFER =
            ThreadLocal.withInitial(() -> new ThreadBuffer(1 << 20, PageSize.BASE));

    /** What goes to the file for one image: the bytes, their CRC32C, and the stored blocks (0: whole image). */
    private record Stored(MemorySegment bytes, int crc, int blocks) {}

    /** The stored forms of {@code pages}, compressed ones in this thread's pack buffer (valid until its next call). */
    private Stored[] stored(List<PageImage> pages) {
        Stored[] stored = new Stored[pages.size()];
        long bound = 0;
        for (PageImage page : pages) {
            bound += Math.max(0, page.bytes().byteSize() - PageSize.BASE);
        }
        MemorySegment pack = null;
        if (compress && bound > 0) {
            pack = PACK_BUFFER.get().atLeast(bound);
        }
        long at = 0;
        for (int i = 0; i < stored.length; i++) {
            MemorySegment image = pages.get(i).bytes();
            long size = image.byteSize();
            if (pack != null && size > PageSize.BASE) {
                long limit = size - PageSize.BASE - LZ_HEADER;
                long n = CODEC.get().compress(image, pack.asSlice(at + LZ_HEADER, limit), limit);
                if (n >= 0) {
                    long bytes = (LZ_HEADER + n + PageSize.BASE - 1) / PageSize.BASE * PageSize.BASE;
                    MemorySegment out = pack.asSlice(at, bytes);
                    out.set(ValueLayout.JAVA_INT_UNALIGNED, 0, LZ_MAGIC);
                    out.set(ValueLayout.JAVA_INT_UNALIGNED, 4, (int) n);
                    out.asSlice(LZ_HEADER + n).fill((byte) 0);
                    stored[i] = new Stored(out, Checksums.crc32c(out), (int) (bytes / PageSize.BASE));
                    at += bytes;
                    continue;
                }
            }
            stored[i] = new Stored(image, Checksums.crc32c(image), 0);
        }
        return stored;
    }

    /**
     * Bytes of page images written since open, and the bytes that went to the file for them (less where images
     * were stored compressed).
     */
    public long[] bytesWritten() {
        return new long[] {imageBytes.sum(), storedBytes.sum()};
    }

    /**
     * A hint that page {@code pageNo} will be {@link #read} soon: the kernel starts reading its current image into
     * the page cache ({@code POSIX_FADV_WILLNEED}) and this returns without waiting. Does nothing for a page never
     * written, or if the hint cannot be given (a closed file, an I/O error reading the page's descriptor).
     */
    public void willNeed(long pageNo) {
        checkPageNo(pageNo);
        try {
            ByteBuffer d = descriptor(pageNo);
            if (PageMetaDescriptor.allocated(d, 0)) {
                data.willNeed(imageOffset(pageNo, PageMetaDescriptor.slotB(d, 0)), PageMetaDescriptor.compressed(d, 0)
                        ? (long) PageMetaDescriptor.storedBlocks(d, 0) * PageSize.BASE
                        : PageSize.bytes(PageMetaDescriptor.sizeClass(d, 0)));
            }
        } catch (IOException e) {
            // a hint: the read that follows reports the error
        }
    }

    /**
     * Writes pages durably and atomically per page, out of place (see the class comment), in chunks of at most
     * {@link #MAX_CHUNK_BYTES}; a page listed twice is written twice, in order. Durable on return.
     *
     * @throws IllegalArgumentException if a page ends past {@link #slotLimit()} (nothing is written then)
     * @throws IOException              on an I/O error; if it struck while descriptors were being switched, every
     *                                  later write fails too until the file is reopened
     */
    public void write(List<PageImage> pages) throws IOException {
        write(pages, true);
    }

    /**
     * As {@link #write}, but the images become durable only at the next {@link #sync} (or when this file syncs by
     * itself, every {@link #SYNC_PENDING_BYTES} of them): until then {@code pages.meta} on disk still names each
     * page's previous image, which stays untouched, so a crash leaves every page as it was at the last sync. Reads
     * see the new images at once. A page written again before the sync overwrites its pending image in place
     * (readers of that page wait meanwhile). For a tier under a write-ahead log, whose checkpoint calls
     * {@link #sync}: evictions then cost no {@code fdatasync} each.
     */
    public void writeDeferred(List<PageImage> pages) throws IOException {
        write(pages, false);
    }

    /**
     * Makes every image written so far durable: {@code fdatasync}s {@code pages.dat}, switches the pending
     * descriptors in {@code pages.meta}, and {@code fdatasync}s it. Does nothing if nothing is pending.
     */
    public void sync() throws IOException {
        writers.lock();
        try {
            checkWritable();
            syncPending();
        } finally {
            writers.unlock();
        }
    }

    private void write(List<PageImage> pages, boolean durable) throws IOException {
        for (PageImage page : pages) {
            checkFits(page);
        }
        // compressing and checksumming need no lock: the caller keeps the images stable until this returns,
        // so several threads' writes compress at once and the lock covers only their I/O
        Stored[] stored = stored(pages);
        writers.lock();
        try {
            checkWritable();
            Set<Long> inChunk = new HashSet<>();
            int from = 0;
            while (from < pages.size()) {
                int to = from;
                long bytes = 0;
                inChunk.clear();
                while (to < pages.size()) {
                    PageImage page = pages.get(to);
                    if (to > from && (bytes + page.bytes().byteSize() > MAX_CHUNK_BYTES
                            || inChunk.contains(page.pageNo()))) {
                        break; // a page twice in one chunk: two images and two descriptors for one slot
                    }
                    inChunk.add(page.pageNo());
                    bytes += page.bytes().byteSize();
                    to++;
                }
                writeChunk(pages.subList(from, to), Arrays.copyOfRange(stored, from, to));
                from = to;
                if (durable || pendingStoredBytes >= SYNC_PENDING_BYTES || pending.size() >= SYNC_PENDING_PAGES) {
                    syncPending();
                }
            }
        } finally {
            writers.unlock();
        }
    }

    private void checkFits(PageImage page) {
        long end = page.pageNo() + PageSize.slots(page.sizeClass());
        if (end > slotLimit) {
            throw new IllegalArgumentException("page " + page.pageNo() + " of class " + page.sizeClass()
                    + " ends at 4 KiB slot " + end + ", past this page file's limit of " + slotLimit
                    + " slots (slot B of page p is at 8 TiB + p * 4 KiB, within the file system's maximum file size)");
        }
    }

    /**
     * Writes a chunk's images into the slots their durable descriptors do not name and makes their descriptors
     * pending (see {@link #pending}). An image whose page already has a pending one overwrites that slot, which
     * readers may be reading: those writes hold the flip lock exclusively. The caller holds {@code writers}.
     */
    private void writeChunk(List<PageImage> chunk, Stored[] stored) throws IOException {
        byte[][] next = new byte[chunk.size()][];
        boolean[] overwrite = new boolean[chunk.size()];
        for (int i = 0; i < chunk.size(); i++) {
            PageImage page = chunk.get(i);
            // the slot the durable descriptor does not name: a crash before the next sync leaves that
            // descriptor, and the image it names, as they are
            boolean toB = !PageMetaDescriptor.slotB(durableDescriptor(page.pageNo()), 0);
            Stored s = stored[i];
            int flags = PageMetaDescriptor.FLAG_ALLOCATED | (toB ? PageMetaDescriptor.FLAG_SLOT_B : 0)
                    | (s.blocks() == 0 ? 0 : PageMetaDescriptor.FLAG_COMPRESSED);
            next[i] = new byte[D];
            PageMetaDescriptor.encode(ByteBuffer.wrap(next[i]).order(ByteOrder.LITTLE_ENDIAN), 0, page.lsn(), s.crc(),
                    page.sizeClass(), flags, s.blocks());
            overwrite[i] = pending.containsKey(page.pageNo());
            if (!overwrite[i]) {
                // no reader reads this slot: no descriptor it can see names it
                data.write(imageOffset(page.pageNo(), toB), s.bytes());
            }
        }
        flipLock.writeLock().lock();
        try {
            for (int i = 0; i < chunk.size(); i++) {
                PageImage page = chunk.get(i);
                if (overwrite[i]) {
                    data.write(imageOffset(page.pageNo(), PageMetaDescriptor.slotB(
                            ByteBuffer.wrap(next[i]).order(ByteOrder.LITTLE_ENDIAN), 0)), stored[i].bytes());
                }
                pending.put(page.pageNo(), next[i]);
                long end = page.pageNo() + PageSize.slots(page.sizeClass());
                if (end > slotsInUse) {
                    slotsInUse = end;
                }
            }
        } finally {
            flipLock.writeLock().unlock();
        }
        for (int i = 0; i < chunk.size(); i++) {
            imageBytes.add(chunk.get(i).bytes().byteSize());
            storedBytes.add(stored[i].bytes().byteSize());
            pendingStoredBytes += stored[i].bytes().byteSize();
        }
    }

    /**
     * Makes the pending images durable, then switches their descriptors on disk and makes those durable (the
     * caller holds {@code writers}). If a descriptor write or the second {@code fdatasync} fails, the file refuses
     * further writes until reopened.
     */
    private void syncPending() throws IOException {
        if (pending.isEmpty()) {
            return;
        }
        // in doubt from here: after a failed fdatasync the kernel may report the next one clean without the
        // images being on disk, so the pending descriptors must never be switched by this instance
        descriptorsInDoubt = true;
        data.fdatasync();
        flipHook.reached(0);
        long[] pages = new long[pending.size()];
        int n = 0;
        for (long p : pending.keySet()) {
            pages[n++] = p;
        }
        Arrays.sort(pages, 0, n); // in file order
        // readers go by a page's pending descriptor until it is dropped below, so its copy in pages.meta is written
        // without the flip lock: readers wait only for the drops, not for thousands of descriptor writes
        for (int i = 0; i < n; i++) {
            meta.write(pages[i] * D, MemorySegment.ofArray(pending.get(pages[i])));
            flipHook.reached(i + 1);
        }
        flipLock.writeLock().lock();
        try {
            for (int i = 0; i < n; i++) {
                pending.remove(pages[i]);
            }
        } finally {
            flipLock.writeLock().unlock();
        }
        pendingStoredBytes = 0;
        meta.fdatasync();
        descriptorsInDoubt = false;
    }

    /** The metadata of the page headed at {@code pageNo}; {@code allocated=false} and LSN 0 if never written. */
    public PageMeta meta(long pageNo) throws IOException {
        checkPageNo(pageNo);
        return decode(pageNo, descriptor(pageNo), 0);
    }

    /**
     * The descriptor of {@code pageNo} readers go by, in a little-endian buffer: its pending one if it has one, else
     * the one in {@code pages.meta} (zeros past its end).
     */
    private ByteBuffer descriptor(long pageNo) throws IOException {
        byte[] p = pending.get(pageNo);
        if (p != null) {
            return ByteBuffer.wrap(p.clone()).order(ByteOrder.LITTLE_ENDIAN); // callers may encode into theirs
        }
        return durableDescriptor(pageNo);
    }

    /** The descriptor of {@code pageNo} in {@code pages.meta}, pending ones aside. */
    private ByteBuffer durableDescriptor(long pageNo) throws IOException {
        byte[] slot = new byte[D];
        meta.read(pageNo * D, MemorySegment.ofArray(slot));
        return ByteBuffer.wrap(slot).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static PageMeta decode(long pageNo, ByteBuffer buf, int at) {
        return new PageMeta(pageNo, PageMetaDescriptor.lsn(buf, at), PageMetaDescriptor.crc(buf, at),
                PageMetaDescriptor.sizeClass(buf, at), PageMetaDescriptor.allocated(buf, at));
    }

    private static long imageOffset(long pageNo, boolean slotB) {
        return (slotB ? SLOT_B_BASE : 0) + pageNo * PageSize.BASE;
    }

    /** Visits the metadata of every allocated page head in page order. */
    public void forEachAllocated(Consumer<PageMeta> visitor) throws IOException {
        syncForScan();
        scan(PageMetaDescriptor::allocated, visitor);
    }

    /**
     * Visits the metadata of every page head freed by {@link #markFreed(long[], int[])} and not written since, in
     * page order: pages whose numbers may be handed out again (with their size class).
     */
    public void forEachFreed(Consumer<PageMeta> visitor) throws IOException {
        syncForScan();
        scan((d, at) -> !PageMetaDescriptor.allocated(d, at) && PageMetaDescriptor.freed(d, at), visitor);
    }

    /** Scans read {@code pages.meta}: pending descriptors are switched there first (scans are for open and tools). */
    private void syncForScan() throws IOException {
        if (!pending.isEmpty()) {
            sync();
        }
    }

    private void scan(java.util.function.BiPredicate<ByteBuffer, Integer> wanted, Consumer<PageMeta> visitor)
            throws IOException {
        byte[] bytes = new byte[SCAN_SLOTS * D];
        ByteBuffer chunk = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long size = meta.size();
        for (long first = 0; first * D < size; first += SCAN_SLOTS) {
            List<PageMeta> found = new ArrayList<>();
            long read;
            flipLock.readLock().lock();
            try {
                read = meta.read(first * D, MemorySegment.ofArray(bytes));
            } finally {
                flipLock.readLock().unlock();
            }
            int slots = (int) (read / D);
            for (int i = 0; i < slots; i++) {
                if (wanted.test(chunk, i * D)) {
                    found.add(decode(first + i, chunk, i * D));
                }
            }
            found.forEach(visitor);
        }
    }

    /**
     * Clears the allocated flag of the page headed at {@code pageNo}, durably; its LSN, CRC, size class and current
     * slot stay, so a later write of the page goes to the other slot. A page not allocated is left as is.
     */
    public void markFreed(long pageNo) throws IOException {
        checkPageNo(pageNo);
        writers.lock();
        try {
            checkWritable();
            ByteBuffer d = descriptor(pageNo);
            if (!PageMetaDescriptor.allocated(d, 0)) {
                return;
            }
            markFreed(new long[] {pageNo}, new int[] {PageMetaDescriptor.sizeClass(d, 0)});
        } finally {
            writers.unlock();
        }
    }

    /**
     * Marks pages freed, durably, with one {@code fdatasync}: each descriptor loses its allocated flag and gains the
     * freed flag ({@link #forEachFreed}) with the size class given, keeping its LSN, CRC and current slot (a later
     * write of the page goes to the other slot). A page never written gets a descriptor saying just that it was freed.
     *
     * @throws IllegalArgumentException if the arrays differ in length, or a page is out of range
     */
    public void markFreed(long[] pageNos, int[] sizeClasses) throws IOException {
        if (pageNos.length != sizeClasses.length) {
            throw new IllegalArgumentException(pageNos.length + " pages but " + sizeClasses.length + " size classes");
        }
        for (long p : pageNos) {
            checkPageNo(p);
        }
        if (pageNos.length == 0) {
            return;
        }
        writers.lock();
        try {
            checkWritable();
            syncPending(); // a freed descriptor keeps the current slot: the one a pending write switched to
            descriptorsInDoubt = true;
            boolean lastSlotFreed = false;
            for (int i = 0; i < pageNos.length; i++) {
                ByteBuffer d = descriptor(pageNos[i]);
                int flags = (PageMetaDescriptor.flags(d, 0)
                        & ~(PageMetaDescriptor.FLAG_ALLOCATED | PageMetaDescriptor.FLAG_COMPRESSED))
                        | PageMetaDescriptor.FLAG_FREED;
                PageMetaDescriptor.encode(d, 0, PageMetaDescriptor.lsn(d, 0), PageMetaDescriptor.crc(d, 0),
                        sizeClasses[i], flags);
                flipLock.writeLock().lock();
                try {
                    meta.write(pageNos[i] * D, MemorySegment.ofArray(d.array()));
                } finally {
                    flipLock.writeLock().unlock();
                }
                lastSlotFreed |= pageNos[i] + PageSize.slots(sizeClasses[i]) >= slotsInUse;
            }
            meta.fdatasync();
            descriptorsInDoubt = false;
            if (lastSlotFreed) {
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

    /** Pages must end at or before this 4 KiB slot here (see the class comment); at most 2<sup>31</sup>. */
    public long slotLimit() {
        return slotLimit;
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

    private void checkWritable() throws IOException {
        if (closed) {
            throw new IllegalStateException("page file is closed");
        }
        if (descriptorsInDoubt) {
            throw new IOException("an earlier sync of the page file failed, so which image slots its descriptors name "
                    + "on disk is unknown; reopen the page file");
        }
    }

    /**
     * Test hook, called whenever pending descriptors are switched ({@link #write} after each chunk, {@link #sync}):
     * with 0 once the images are durable, then after each descriptor write (in page order) with the number written
     * so far; throwing from it stops the switches there, as a crash would.
     */
    void onFlip(FlipHook hook) {
        writers.lock();
        try {
            flipHook = hook;
        } finally {
            writers.unlock();
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
            if (!pending.isEmpty() && !descriptorsInDoubt) {
                try {
                    syncPending(); // a clean close keeps what was written
                } catch (IOException | RuntimeException e) {
                    // as a crash would: each page reads as at the last sync
                }
            }
            closed = true;
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
