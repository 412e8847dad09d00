package dev.strata.nbd.internal;

/**
 * NBD wire constants (fixed newstyle; see the NBD protocol document, doc/proto.md).
 *
 * <pre>
 * Handshake (server first):
 *   +----------------+----------------+-------------+
 *   | "NBDMAGIC" u64 | "IHAVEOPT" u64 | hsflags u16 |   server -> client
 *   +----------------+----------------+-------------+
 *   | client flags u32 |                                client -> server
 *
 * Option request:                   Option reply:
 *   +-------------+--------+-----+    +--------------------+--------+------+-----+
 *   | IHAVEOPT u64| opt u32|len u32| + | 0x3e889045565a9 u64| opt u32|type u32|len u32| data
 *   +-------------+--------+-----+    +--------------------+--------+------+-----+
 *
 * Request (28 bytes):
 *   +-----------+-----------+----------+------------+------------+-----------+
 *   | magic u32 | flags u16 | type u16 | cookie u64 | offset u64 | length u32|  [payload]
 *   +-----------+-----------+----------+------------+------------+-----------+
 * Simple reply (16 bytes):
 *   +-----------+-----------+------------+
 *   | magic u32 | error u32 | cookie u64 |  [data for a successful READ]
 *   +-----------+-----------+------------+
 * Structured reply chunk (20 bytes + payload):
 *   +-----------+-----------+----------+------------+------------+
 *   | magic u32 | flags u16 | type u16 | cookie u64 | length u32 |  payload
 *   +-----------+-----------+----------+------------+------------+
 * </pre>
 */
public final class Proto {
    private Proto() {}

    public static final long NBDMAGIC = 0x4e42444d41474943L;
    public static final long IHAVEOPT = 0x49484156454F5054L;
    public static final long OPT_REPLY_MAGIC = 0x3e889045565a9L;

    public static final int FLAG_FIXED_NEWSTYLE = 1;
    public static final int FLAG_NO_ZEROES = 2;
    public static final int C_FLAG_FIXED_NEWSTYLE = 1;
    public static final int C_FLAG_NO_ZEROES = 2;

    public static final int OPT_EXPORT_NAME = 1;
    public static final int OPT_ABORT = 2;
    public static final int OPT_LIST = 3;
    public static final int OPT_STARTTLS = 5;
    public static final int OPT_INFO = 6;
    public static final int OPT_GO = 7;
    public static final int OPT_STRUCTURED_REPLY = 8;
    public static final int OPT_LIST_META_CONTEXT = 9;
    public static final int OPT_SET_META_CONTEXT = 10;

    public static final int REP_ACK = 1;
    public static final int REP_SERVER = 2;
    public static final int REP_INFO = 3;
    public static final int REP_META_CONTEXT = 4;
    public static final int REP_ERR_UNSUP = 0x80000001;
    public static final int REP_ERR_POLICY = 0x80000002;
    public static final int REP_ERR_INVALID = 0x80000003;
    public static final int REP_ERR_PLATFORM = 0x80000004;
    public static final int REP_ERR_TLS_REQD = 0x80000005;
    public static final int REP_ERR_UNKNOWN = 0x80000006;
    public static final int REP_ERR_TOO_BIG = 0x80000009;

    public static final int INFO_EXPORT = 0;
    public static final int INFO_NAME = 1;
    public static final int INFO_DESCRIPTION = 2;
    public static final int INFO_BLOCK_SIZE = 3;

    public static final int TFLAG_HAS_FLAGS = 1;
    public static final int TFLAG_READ_ONLY = 1 << 1;
    public static final int TFLAG_SEND_FLUSH = 1 << 2;
    public static final int TFLAG_SEND_FUA = 1 << 3;
    public static final int TFLAG_SEND_TRIM = 1 << 5;
    public static final int TFLAG_SEND_WRITE_ZEROES = 1 << 6;
    public static final int TFLAG_SEND_DF = 1 << 7;
    public static final int TFLAG_CAN_MULTI_CONN = 1 << 8;
    public static final int TFLAG_SEND_CACHE = 1 << 10;
    public static final int TFLAG_SEND_FAST_ZERO = 1 << 11;

    public static final int REQUEST_MAGIC = 0x25609513;
    public static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    public static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;

    public static final int CMD_FLAG_FUA = 1;
    public static final int CMD_FLAG_NO_HOLE = 1 << 1;
    public static final int CMD_FLAG_DF = 1 << 2;
    public static final int CMD_FLAG_REQ_ONE = 1 << 3;
    public static final int CMD_FLAG_FAST_ZERO = 1 << 4;
    public static final int CMD_FLAGS_KNOWN = 0x1f;

    public static final int CMD_READ = 0;
    public static final int CMD_WRITE = 1;
    public static final int CMD_DISC = 2;
    public static final int CMD_FLUSH = 3;
    public static final int CMD_TRIM = 4;
    public static final int CMD_CACHE = 5;
    public static final int CMD_WRITE_ZEROES = 6;
    public static final int CMD_BLOCK_STATUS = 7;

    public static final int REPLY_FLAG_DONE = 1;
    public static final int REPLY_TYPE_NONE = 0;
    public static final int REPLY_TYPE_OFFSET_DATA = 1;
    public static final int REPLY_TYPE_BLOCK_STATUS = 5;
    public static final int REPLY_TYPE_ERROR = (1 << 15) + 1;

    public static final int EPERM = 1;
    public static final int EIO = 5;
    public static final int ENOMEM = 12;
    public static final int EINVAL = 22;
    public static final int ENOSPC = 28;
    public static final int EOVERFLOW = 75;
    public static final int ENOTSUP = 95;
    public static final int ESHUTDOWN = 108;

    /** base:allocation flags. */
    public static final int STATE_HOLE = 1;
    public static final int STATE_ZERO = 2;
    public static final String BASE_ALLOCATION = "base:allocation";
    public static final int BASE_ALLOCATION_ID = 1;

    /** Longest option payload read into memory; longer ones are skipped in place and refused. */
    public static final int MAX_OPTION_LENGTH = 64 * 1024;
    /** Longest option payload the server is willing to skip before closing the connection. */
    public static final int MAX_OPTION_SKIP = 1 << 20;
    /** Longest export name, description or meta-context query (the spec's 4096 byte limit). */
    public static final int MAX_STRING = 4096;
}
