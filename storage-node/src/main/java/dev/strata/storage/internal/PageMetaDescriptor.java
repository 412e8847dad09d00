package dev.strata.storage.internal;

import java.nio.ByteBuffer;

/**
 * Layout of one 16-byte slot of {@code pages.meta}; slot {@code p} sits at offset {@code p * 16} and describes the
 * page whose head is 4 KiB slot {@code p}. Little endian. Slots covered by a multi-slot page but not its head stay
 * zero. A slot never written reads as all zeros (lsn 0, not allocated, image slot A).
 *
 * <p>Each page has two image slots in {@code pages.dat} (see {@code PageFile}): A at {@code p * 4096}, B at
 * {@code PageFile.SLOT_B_BASE + p * 4096}. Flags bit 1 names the current one, whose CRC and LSN the slot holds;
 * the other one is where the next write of the page goes. Stores written before out-of-place writes have the bit
 * clear everywhere, which names slot A, where they kept every image. A descriptor is written with one 16-byte
 * {@code pwrite} that never crosses a 512-byte boundary; the page file assumes such a write is atomic on the device
 * (sector-atomic), so that a crash leaves each descriptor old or new, never a mix.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                           LSN (u64)                           |  0
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                     CRC32C of image (u32)                     |  8
 *  +---------------+---------------+-------------------------------+
 *  | sizeClass (u8)|  flags (u8)   |  stored 4 KiB blocks (u16)    | 12
 *  +---------------+---------------+-------------------------------+
 *  flags bit 0: allocated (this slot is the head of a live page)
 *  flags bit 1: current image slot (0 = A at p * 4096, 1 = B at SLOT_B_BASE + p * 4096); kept when freed
 *  flags bit 2: freed (the head of a page that was freed; its size class stays, so the page can be reused);
 *               cleared when the page is written again
 *  flags bit 3: compressed: the image slot holds the page compressed ({@code PageFile} names the layout) in
 *               the first "stored blocks" 4 KiB blocks, fewer than the page spans; the CRC covers those blocks
 *  flags bits 4..7: zero
 *  stored blocks: 0 unless compressed (older stores wrote zero here: "reserved")
 * </pre>
 */
public final class PageMetaDescriptor {
    public static final int LSN_OFFSET = 0;
    public static final int CRC_OFFSET = 8;
    public static final int SIZE_CLASS_OFFSET = 12;
    public static final int FLAGS_OFFSET = 13;
    public static final int LENGTH = 16;
    public static final int FLAG_ALLOCATED = 1;
    public static final int FLAG_SLOT_B = 2;
    public static final int FLAG_FREED = 4;
    public static final int FLAG_COMPRESSED = 8;
    public static final int KNOWN_FLAGS = FLAG_ALLOCATED | FLAG_SLOT_B | FLAG_FREED | FLAG_COMPRESSED;
    public static final int STORED_BLOCKS_OFFSET = 14;

    private PageMetaDescriptor() {}

    /** Writes one slot at {@code at} of a little-endian buffer. */
    public static void encode(ByteBuffer dst, int at, long lsn, int crc, int sizeClass, int flags) {
        encode(dst, at, lsn, crc, sizeClass, flags, 0);
    }

    /** Writes one slot whose image is stored in {@code storedBlocks} 4 KiB blocks (0: not compressed). */
    public static void encode(ByteBuffer dst, int at, long lsn, int crc, int sizeClass, int flags, int storedBlocks) {
        if (storedBlocks < 0 || storedBlocks > 0xFFFF) {
            throw new IllegalArgumentException("stored blocks out of range: " + storedBlocks);
        }
        dst.putLong(at + LSN_OFFSET, lsn);
        dst.putInt(at + CRC_OFFSET, crc);
        dst.put(at + SIZE_CLASS_OFFSET, (byte) sizeClass);
        dst.put(at + FLAGS_OFFSET, (byte) flags);
        dst.putShort(at + STORED_BLOCKS_OFFSET, (short) storedBlocks);
    }

    /** How many 4 KiB blocks the compressed image takes; 0 if the image is not compressed. */
    public static int storedBlocks(ByteBuffer src, int at) {
        return src.getShort(at + STORED_BLOCKS_OFFSET) & 0xFFFF;
    }

    public static boolean compressed(ByteBuffer src, int at) {
        return (flags(src, at) & FLAG_COMPRESSED) != 0;
    }

    public static long lsn(ByteBuffer src, int at) {
        return src.getLong(at + LSN_OFFSET);
    }

    public static int crc(ByteBuffer src, int at) {
        return src.getInt(at + CRC_OFFSET);
    }

    public static int sizeClass(ByteBuffer src, int at) {
        return src.get(at + SIZE_CLASS_OFFSET) & 0xFF;
    }

    public static int flags(ByteBuffer src, int at) {
        return src.get(at + FLAGS_OFFSET) & 0xFF;
    }

    public static boolean allocated(ByteBuffer src, int at) {
        return (flags(src, at) & FLAG_ALLOCATED) != 0;
    }

    /** Whether the current image is in slot B. */
    public static boolean freed(ByteBuffer src, int at) {
        return (flags(src, at) & FLAG_FREED) != 0;
    }

    public static boolean slotB(ByteBuffer src, int at) {
        return (flags(src, at) & FLAG_SLOT_B) != 0;
    }
}
