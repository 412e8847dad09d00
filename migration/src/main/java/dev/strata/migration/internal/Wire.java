package dev.strata.migration.internal;

/**
 * The migration protocol (Strata's own, independent of NBD). Every frame:
 *
 * <pre>
 *   0        4      5
 *   +--------+------+------------------------+
 *   | length | type | payload (length-1 B)   |   length: u32 big-endian, 1 + payload bytes
 *   +--------+------+------------------------+
 * </pre>
 *
 * Control frames carry at most {@link #MAX_CONTROL} payload bytes; a CHUNK frame carries
 * {@code 16 + chunk length} bytes. A reader checks the length against the bound of the frame's type
 * <em>before</em> reading or allocating anything and closes the connection on a violation.
 *
 * <pre>
 *  leecher                                   seeder
 *    HELLO magic u64, minVer u16, maxVer u16, migrationId u64 (0 = new),
 *          lastReceivedGen u64, maxChunk u32, flags u32          ──►
 *    ◄── WELCOME version u16, size u64, chunkSize u32, epoch u64, migrationId u64, fenced u8
 *    ROUND round u32                                             ──►   (send every stale chunk)
 *    ◄── CHUNK index u64, gen u64, bytes          (gen strictly increasing on a connection)
 *    ◄── ROUND_END round u32, chunks u64, bytes u64, staleSent u64, unsent u64, dirtyRate f64 (chunks/s)
 *    GET first u64, count u32, urgent u8                         ──►   (post-copy, on demand)
 *    FINALIZE newEpoch u64                                       ──►   (suspend, final set, fence)
 *    ◄── FINAL_END epoch u64, chunks u64, suspendNanos u64, unsent u64
 *    ABORT                                                       ──►   (roll back: seeder resumes)
 *    BYE                                                         ──►   (leecher has everything)
 *    ◄── ERROR code u16, message (UTF-8, ≤ 1 KiB)
 * </pre>
 */
public final class Wire {
    private Wire() {}

    /** "STRMIG01". */
    public static final long MAGIC = 0x5354524d49473031L;
    public static final int VERSION = 1;
    public static final int MIN_CHUNK = 4096;
    public static final int MAX_CHUNK = 4 << 20;
    public static final int MAX_CONTROL = 2048;
    public static final int MAX_GET_COUNT = 1 << 16;
    public static final int CHUNK_HEADER = 16;

    public static final int HELLO = 1;
    public static final int WELCOME = 2;
    public static final int ROUND = 3;
    public static final int CHUNK = 4;
    public static final int ROUND_END = 5;
    public static final int GET = 6;
    public static final int FINALIZE = 7;
    public static final int FINAL_END = 8;
    public static final int ABORT = 9;
    public static final int ERROR = 10;
    public static final int BYE = 11;

    public static final int HELLO_LEN = 8 + 2 + 2 + 8 + 8 + 4 + 4;
    public static final int WELCOME_LEN = 2 + 8 + 4 + 8 + 8 + 1;
    public static final int ROUND_LEN = 4;
    public static final int ROUND_END_LEN = 4 + 8 + 8 + 8 + 8 + 8;
    public static final int GET_LEN = 8 + 4 + 1;
    public static final int FINALIZE_LEN = 8;
    public static final int FINAL_END_LEN = 8 + 8 + 8 + 8;

    /** Error codes carried by ERROR frames. */
    public static final int E_VERSION = 1;
    public static final int E_BAD_FRAME = 2;
    public static final int E_STALE_EPOCH = 3;
    public static final int E_UNKNOWN_MIGRATION = 4;
    public static final int E_BUSY = 5;
    public static final int E_INTERNAL = 6;

    /** Exact payload length of a fixed-size control frame, or -1 for variable ones. */
    public static int fixedLength(int type) {
        return switch (type) {
            case HELLO -> HELLO_LEN;
            case WELCOME -> WELCOME_LEN;
            case ROUND -> ROUND_LEN;
            case ROUND_END -> ROUND_END_LEN;
            case GET -> GET_LEN;
            case FINALIZE -> FINALIZE_LEN;
            case FINAL_END -> FINAL_END_LEN;
            case ABORT, BYE -> 0;
            default -> -1;
        };
    }

    public static String typeName(int type) {
        return switch (type) {
            case HELLO -> "HELLO";
            case WELCOME -> "WELCOME";
            case ROUND -> "ROUND";
            case CHUNK -> "CHUNK";
            case ROUND_END -> "ROUND_END";
            case GET -> "GET";
            case FINALIZE -> "FINALIZE";
            case FINAL_END -> "FINAL_END";
            case ABORT -> "ABORT";
            case ERROR -> "ERROR";
            case BYE -> "BYE";
            default -> "type " + type;
        };
    }

    /** True for a chunk size this implementation accepts: a power of two in [4 KiB, 4 MiB]. */
    public static boolean validChunkSize(long chunk) {
        return chunk >= MIN_CHUNK && chunk <= MAX_CHUNK && Long.bitCount(chunk) == 1;
    }
}
