package dev.strata.storage.internal;

import dev.strata.core.Checksums;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Layout of one log record frame. All fields little endian; the CRC32C covers epoch, LSN and payload (bytes
 * {@code 8 .. 24 + length}), so a frame is checked with one pass over contiguous bytes.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                     payload length (u32)                      |  0
 *  +---------------------------------------------------------------+
 *  |                  CRC32C(epoch..payload) (u32)                 |  4
 *  +---------------------------------------------------------------+
 *  |                          epoch (u64)                          |  8
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                           LSN (u64)                           | 16
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                     payload (length bytes)                   ... 24
 *  +---------------------------------------------------------------+
 * </pre>
 */
public final class LogRecordDescriptor {
    public static final int LENGTH_OFFSET = 0;
    public static final int CRC_OFFSET = 4;
    public static final int EPOCH_OFFSET = 8;
    public static final int LSN_OFFSET = 16;
    public static final int HEADER_LENGTH = 24;
    /** First byte covered by the CRC. */
    public static final int CRC_START = EPOCH_OFFSET;

    /** Little-endian, unaligned field layouts for reading and writing frames in memory segments. */
    public static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private LogRecordDescriptor() {}

    /** Bytes a frame with the given payload occupies. */
    public static int frameLength(int payloadLength) {
        return HEADER_LENGTH + payloadLength;
    }

    /**
     * Encodes a frame of {@code payload}'s bytes at {@code offset} of {@code dst} (which must have room for it) and
     * returns its length.
     */
    public static int encode(MemorySegment dst, long offset, long lsn, long epoch, MemorySegment payload) {
        MemorySegment.copy(payload, 0, dst, offset + HEADER_LENGTH, payload.byteSize());
        return encodeHeader(dst, offset, lsn, epoch, payload) + Math.toIntExact(payload.byteSize());
    }

    /**
     * Encodes only the header of a frame of {@code payload}'s bytes at {@code offset} of {@code dst} (the same bytes
     * {@link #encode} writes there, the checksum covering the payload where it is); the payload must follow it.
     */
    public static int encodeHeader(MemorySegment dst, long offset, long lsn, long epoch, MemorySegment payload) {
        int length = Math.toIntExact(payload.byteSize());
        dst.set(INT, offset + LENGTH_OFFSET, length);
        dst.set(LONG, offset + EPOCH_OFFSET, epoch);
        dst.set(LONG, offset + LSN_OFFSET, lsn);
        int crc = Checksums.crc32c(dst.asSlice(offset + CRC_START, HEADER_LENGTH - CRC_START), payload);
        dst.set(INT, offset + CRC_OFFSET, crc);
        return HEADER_LENGTH;
    }
}
