package dev.strata.storage.internal;

import dev.strata.core.Checksums;
import dev.strata.core.PageSize;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The legacy double-write buffer {@code pages.dwb}. Before out-of-place page writes, each batch of page images was
 * written here and fsynced before it was written in place, so a page torn by a crash during the in-place write
 * could be restored on open. The page file no longer writes it: on opening a store that still has one it reads
 * the last batch once ({@link #readLastBatch}), repairs from it and deletes the file. A batch always starts at
 * offset 0 and was never erased afterwards, so the last batch stays readable; entries of older, longer batches
 * behind it carry a different batch number and are ignored.
 *
 * <pre>
 *  entry (little endian), repeated:
 *  +----------------+-----------+-------------+-------------+-------------+---------------+-------+----------+
 *  | headerCrc u32  | magic u32 | batch u64   | pageNo u64  | lsn u64     | imageCrc u32  | class | reserved |
 *  +----------------+-----------+-------------+-------------+-------------+---------------+-------+----------+
 *  0                4           8             16            24            32              36      37         40
 *  followed by the image, 4 KiB &lt;&lt; class bytes. headerCrc = CRC32C(bytes 4..40); imageCrc = CRC32C(image).
 * </pre>
 */
public final class DoubleWriteBuffer {
    /** Largest batch, in bytes of entries, the previous version wrote at once. */
    public static final int CAPACITY = 8 << 20;
    public static final int HEADER_LENGTH = 40;
    private static final int MAGIC = 0x42574453; // "SDWB"

    /** One valid entry of the last batch. */
    public record Entry(long pageNo, long lsn, int imageCrc, int sizeClass, MemorySegment image) {}

    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private DoubleWriteBuffer() {}

    /** Bytes one entry for a page of {@code sizeClass} takes. */
    public static int entryLength(int sizeClass) {
        return HEADER_LENGTH + PageSize.bytes(sizeClass);
    }

    /**
     * Writes one batch at offset 0 and fsyncs it, byte for byte as the previous version did. Production code no
     * longer calls this; tests use it to build stores of the previous version.
     */
    public static void write(Path path, long batch, List<Entry> entries) throws IOException {
        int total = 0;
        for (Entry e : entries) {
            total += entryLength(e.sizeClass());
        }
        try (NativeFile file = NativeFile.openOrCreate(path); Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(total);
            long at = 0;
            for (Entry e : entries) {
                buf.set(INT, at + 4, MAGIC);
                buf.set(LONG, at + 8, batch);
                buf.set(LONG, at + 16, e.pageNo());
                buf.set(LONG, at + 24, e.lsn());
                buf.set(INT, at + 32, e.imageCrc());
                buf.set(ValueLayout.JAVA_BYTE, at + 36, (byte) e.sizeClass());
                buf.set(INT, at, Checksums.crc32c(buf.asSlice(at + 4, HEADER_LENGTH - 4)));
                MemorySegment.copy(e.image(), 0, buf, at + HEADER_LENGTH, e.image().byteSize());
                at += entryLength(e.sizeClass());
            }
            file.write(0, buf);
            file.fdatasync();
        }
    }

    /**
     * The valid entries of the last batch written to {@code path}: from offset 0, while each entry's header and
     * image CRCs hold and its batch number equals the first entry's.
     */
    public static List<Entry> readLastBatch(Path path) throws IOException {
        byte[] bytes;
        try (NativeFile file = NativeFile.openRead(path)) {
            bytes = new byte[(int) Math.min(file.size(), CAPACITY)];
            long read = file.read(0, MemorySegment.ofArray(bytes));
            if (read < bytes.length) {
                bytes = Arrays.copyOf(bytes, (int) read); // shrank since size(): only what is there counts
            }
        }
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        List<Entry> entries = new ArrayList<>();
        long number = -1;
        int at = 0;
        while (at + HEADER_LENGTH <= bytes.length) {
            if (buf.getInt(at + 4) != MAGIC
                    || buf.getInt(at) != Checksums.crc32c(bytes, at + 4, HEADER_LENGTH - 4)) {
                break;
            }
            int sizeClass = buf.get(at + 36) & 0xFF;
            long entryBatch = buf.getLong(at + 8);
            if (sizeClass > PageSize.MAX_CLASS || (number != -1 && entryBatch != number)
                    || at + entryLength(sizeClass) > bytes.length) {
                break;
            }
            int imageCrc = buf.getInt(at + 32);
            int pageBytes = PageSize.bytes(sizeClass);
            if (Checksums.crc32c(bytes, at + HEADER_LENGTH, pageBytes) != imageCrc) {
                break;
            }
            number = entryBatch;
            MemorySegment image = MemorySegment.ofArray(bytes).asSlice(at + HEADER_LENGTH, pageBytes);
            entries.add(new Entry(buf.getLong(at + 16), buf.getLong(at + 24), imageCrc, sizeClass, image));
            at += entryLength(sizeClass);
        }
        return entries;
    }
}
