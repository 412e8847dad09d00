package dev.strata.core.remote;

import dev.strata.core.PageSize;

/**
 * Layout of the frames the TCP transport exchanges: every request and every response is one frame,
 * a fixed 48-byte header followed by an optional payload. All fields little-endian.
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                 frame length (header + payload)               |  0
 *  +---------------+---------------+-------------------------------+
 *  |    opcode     |    status     |            flags              |  4
 *  +---------------+---------------+-------------------------------+
 *  |                          request id                           |  8
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |      arg0: region key | page id | partition | 0               | 16
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |      arg1: offset | epoch                                     | 24
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |      arg2: length | LSN | expected                            | 32
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |      arg3: desired | CRC32C (low 32) + size class (bits 32-39)| 40
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                   payload (frame length - 48)                ...  48
 *  +---------------------------------------------------------------+
 * </pre>
 *
 * <table>
 * <caption>Opcodes: request arguments → response</caption>
 * <tr><th>op</th><th>request</th><th>response (status OK)</th></tr>
 * <tr><td>PING</td><td>—</td><td>—</td></tr>
 * <tr><td>READ</td><td>key, offset, length</td><td>payload = the bytes</td></tr>
 * <tr><td>WRITE</td><td>key, offset, length; payload = bytes</td><td>—</td></tr>
 * <tr><td>CAS</td><td>key, offset, expected, desired</td><td>arg2 = previous value</td></tr>
 * <tr><td>REGION_ALLOC</td><td>arg2 = length</td><td>arg0 = key, arg2 = length</td></tr>
 * <tr><td>REGION_FREE</td><td>key</td><td>—</td></tr>
 * <tr><td>PAGE_GET</td><td>page id, arg3 = size class</td><td>arg2 = LSN, arg3 = CRC + size class, payload = page</td></tr>
 * <tr><td>PAGE_PUT</td><td>page id, epoch, LSN, CRC + size class; payload = page</td><td>—</td></tr>
 * <tr><td>PAGE_FREE</td><td>page id, epoch</td><td>—</td></tr>
 * <tr><td>FENCE</td><td>partition, epoch</td><td>arg1 = highest epoch now known</td></tr>
 * </table>
 *
 * <p>A response repeats the request's opcode and id. Limits, checked before any allocation: the
 * frame length must lie in {@code [HEADER_LENGTH, MAX_FRAME]} (else {@code BAD_FRAME} and the
 * connection closes, since the stream cannot be resynchronized); a READ/WRITE length above
 * {@link #MAX_PAYLOAD} gets {@code TOO_LARGE}; offsets and lengths are checked against the region.
 */
public final class RemoteFrameDescriptor {
    public static final int LENGTH_OFFSET = 0;
    public static final int OPCODE_OFFSET = 4;
    public static final int STATUS_OFFSET = 5;
    public static final int FLAGS_OFFSET = 6;
    public static final int REQUEST_ID_OFFSET = 8;
    public static final int ARG0_OFFSET = 16;
    public static final int ARG1_OFFSET = 24;
    public static final int ARG2_OFFSET = 32;
    public static final int ARG3_OFFSET = 40;
    public static final int HEADER_LENGTH = 48;

    /** Largest payload of one frame: 1 MiB (four pages of the largest size class). */
    public static final int MAX_PAYLOAD = 4 * PageSize.MAX;
    public static final int MAX_FRAME = HEADER_LENGTH + MAX_PAYLOAD;

    public static final byte OP_PING = 0;
    public static final byte OP_READ = 1;
    public static final byte OP_WRITE = 2;
    public static final byte OP_CAS = 3;
    public static final byte OP_REGION_ALLOC = 4;
    public static final byte OP_REGION_FREE = 5;
    public static final byte OP_PAGE_GET = 16;
    public static final byte OP_PAGE_PUT = 17;
    public static final byte OP_PAGE_FREE = 18;
    public static final byte OP_FENCE = 19;

    private RemoteFrameDescriptor() {}

    /** Packs a CRC32C and a size class into arg3. */
    public static long crcAndClass(int crc, int sizeClass) {
        return (crc & 0xffff_ffffL) | ((long) (sizeClass & 0xff) << 32);
    }

    public static int crcOf(long arg3) {
        return (int) arg3;
    }

    public static int sizeClassOf(long arg3) {
        return (int) ((arg3 >>> 32) & 0xff);
    }
}
