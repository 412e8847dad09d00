package dev.strata.storage.internal;

import dev.strata.core.Checksums;
import java.nio.ByteBuffer;
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

    private LogRecordDescriptor() {}

    /** Bytes a frame with the given payload occupies. */
    public static int frameLength(int payloadLength) {
        return HEADER_LENGTH + payloadLength;
    }

    /**
     * Encodes a frame at {@code dst.position()} of a heap, little-endian buffer with enough room, and advances
     * the position past it.
     */
    public static void encode(ByteBuffer dst, long lsn, long epoch, byte[] payload) {
        assert dst.hasArray() && dst.order() == ByteOrder.LITTLE_ENDIAN;
        int start = dst.position();
        dst.putInt(start + LENGTH_OFFSET, payload.length);
        dst.putLong(start + EPOCH_OFFSET, epoch);
        dst.putLong(start + LSN_OFFSET, lsn);
        dst.put(start + HEADER_LENGTH, payload);
        int crc = Checksums.crc32c(dst.array(), dst.arrayOffset() + start + CRC_START,
                HEADER_LENGTH - CRC_START + payload.length);
        dst.putInt(start + CRC_OFFSET, crc);
        dst.position(start + HEADER_LENGTH + payload.length);
    }
}
