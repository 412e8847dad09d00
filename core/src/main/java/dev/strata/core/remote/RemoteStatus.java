package dev.strata.core.remote;

/**
 * Outcome of one remote operation, carried in the {@code status} byte of a response frame
 * ({@link RemoteFrameDescriptor}). Expected outcomes ({@link #NOT_FOUND}, {@link #FULL},
 * {@link #STALE_EPOCH}, {@link #STALE_LSN}) are answers; the rest name a precise protocol or
 * transport error.
 */
public enum RemoteStatus {
    /** Done. */
    OK(0),
    /** No such page (or the stored page has a different size class). */
    NOT_FOUND(1),
    /** Capacity bound reached: no frame or region could be allocated. Nothing was changed. */
    FULL(2),
    /** The write carried an epoch lower than the highest seen for its partition (fenced). */
    STALE_EPOCH(3),
    /** The write carried an LSN lower than the stored copy's; the newer copy was kept. */
    STALE_LSN(4),
    /** Unknown or freed region key. */
    BAD_KEY(5),
    /** Offset or length outside the region, or an invalid argument (size class, page id). */
    OUT_OF_RANGE(6),
    /** A length above the transfer limit; nothing was allocated. */
    TOO_LARGE(7),
    /** Unknown opcode; the connection stays usable. */
    UNKNOWN_OPCODE(8),
    /**
     * The frame is malformed: a payload size that does not match its opcode (the connection stays
     * usable), or a length field out of bounds (the connection is closed after this answer, since the
     * stream cannot be resynchronized).
     */
    BAD_FRAME(9),
    /** A CRC32C check failed on transfer. */
    CORRUPT(10),
    /** A compare-and-swap offset not aligned to 8 bytes. */
    MISALIGNED(11),
    /** The node failed while serving the request. */
    INTERNAL(12),
    /** Client side: no connection to the node (refused, closed, or reconnect backing off). */
    UNAVAILABLE(13),
    /** Client side: no answer within the request timeout. */
    TIMEOUT(14);

    private static final RemoteStatus[] BY_CODE = new RemoteStatus[256];

    static {
        for (RemoteStatus s : values()) {
            BY_CODE[s.code] = s;
        }
    }

    private final int code;

    RemoteStatus(int code) {
        this.code = code;
    }

    /** The wire code. */
    public int code() {
        return code;
    }

    /** The status of a wire code; an unknown code maps to {@link #BAD_FRAME}. */
    public static RemoteStatus of(int code) {
        RemoteStatus s = (code & 0xff) == code ? BY_CODE[code] : null;
        return s == null ? BAD_FRAME : s;
    }

    /** True for answers a caller may retry on another replica (the node may be fine). */
    public boolean isTransportFailure() {
        return this == UNAVAILABLE || this == TIMEOUT || this == INTERNAL;
    }
}
