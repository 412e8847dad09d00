package dev.strata.core;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A byte-oriented LZ77 codec for page images: greedy matching through a hash table of 4-byte sequences, no
 * entropy coding, so both directions run at memory speed. Built for the pages of an index, whose records
 * repeat key prefixes and often whole values.
 *
 * <h2>Format</h2>
 * A compressed block is a run of sequences. Each sequence is a token byte, the literal length's extension, the
 * literals, and then, in every sequence but the last, a match: a 2-byte little-endian offset (1..65535 back
 * from the current output position) and the match length's extension.
 * <pre>
 *  token: high 4 bits = literal count (15: more follows), low 4 bits = match length - 4 (15: more follows)
 *  extension of a length field of 15: bytes added to it, each 255 meaning "and another byte follows"
 * </pre>
 * The last sequence ends the input: it has literals only. A decoder stops when the input is used up and
 * fails unless it has produced exactly the expected number of bytes.
 *
 * <p>The work is done on heap arrays (the segment methods copy in and out: a bulk copy costs less than the
 * bounds and liveness checks of many small segment accesses). An instance holds the compressor's hash table and
 * buffers and is not thread-safe; {@link #decompress} is static and keeps its buffers per thread.
 */
public final class LzCodec {
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final int MIN_MATCH = 4;
    private static final int MAX_OFFSET = 65535;
    private static final int HASH_BITS = 14;
    /** Bytes at the end of the input never start a match (the compressor reads 8 bytes at a time). */
    private static final int TAIL = 12;
    /**
     * The search step grows by one per {@code 1 << SKIP_SHIFT} misses in a row, so incompressible input costs
     * little. 8 rather than LZ4's 64: an index page's random keys are runs of misses between long matches
     * (each entry's value and header repeat the previous one's), and a match the larger steps skip into is
     * found a few bytes late and extended backwards. Index pages (16 and 64 KiB, 16-byte random keys and
     * 100-byte values) compress 1.5x faster for a 1.6% lower ratio; 16 KiB chunks of Java source and of
     * shared libraries take 0-1.3% more 4 KiB blocks.
     */
    private static final int SKIP_SHIFT = 3;
    private static final ThreadLocal<byte[][]> DECODE_BUFFERS = ThreadLocal.withInitial(() -> new byte[2][]);

    /**
     * Positions seen, by hash of the 4 bytes there, stored as {@link #base} + position: each call moves
     * {@code base} past every position of the previous call, so their entries read as negative positions
     * (empty) and the 64 KiB table need not be cleared per call (CodecBench: 16 KiB leaves +10-20% pages/s;
     * 64 KiB nodes unchanged). Cleared only when {@code base} nears overflow.
     */
    private final int[] table = new int[1 << HASH_BITS];
    private int base = Integer.MAX_VALUE; // cleared on the first call
    private byte[] in = new byte[0];
    private byte[] out = new byte[0];

    /** The most bytes {@link #compress} can write for {@code n} bytes of input (all literals). */
    public static long maxCompressedLength(long n) {
        return n + n / 255 + 16;
    }

    /**
     * Compresses {@code src} into {@code dst}.
     *
     * @return the number of bytes written, or -1 if the output would exceed {@code limit} bytes (give up: the
     *         input does not compress enough to be worth it); {@code limit} must not exceed {@code dst}'s size
     */
    public long compress(MemorySegment src, MemorySegment dst, long limit) {
        if (limit > dst.byteSize()) {
            throw new IllegalArgumentException("limit " + limit + " exceeds the destination's " + dst.byteSize());
        }
        long n = src.byteSize();
        if (n > Integer.MAX_VALUE / 2) {
            throw new IllegalArgumentException("input of " + n + " bytes is too large");
        }
        int max = (int) Math.min(limit, maxCompressedLength(n));
        if (in.length < n) {
            in = new byte[(int) n];
        }
        if (out.length < max) {
            out = new byte[max];
        }
        MemorySegment.copy(src, ValueLayout.JAVA_BYTE, 0, in, 0, (int) n);
        int written = compress(in, (int) n, out, max);
        if (written >= 0) {
            MemorySegment.copy(out, 0, dst, ValueLayout.JAVA_BYTE, 0, written);
        }
        return written;
    }

    /**
     * Compresses the first {@code n} bytes of {@code src} into {@code dst}.
     *
     * @return the number of bytes written, or -1 if the output would exceed {@code limit} bytes
     */
    public int compress(byte[] src, int n, byte[] dst, int limit) {
        if (n > src.length || limit > dst.length) {
            throw new IllegalArgumentException("input of " + n + " bytes or limit " + limit + " exceeds its array");
        }
        if (base > Integer.MAX_VALUE - 1 - n) {
            Arrays.fill(table, -1);
            base = 0;
        }
        int b = base;
        base += n + 1; // the next call's positions start above all of this call's
        int op = 0;
        int anchor = 0;
        int ip = 0;
        int end = n - TAIL;
        int misses = 0;
        while (ip < end) {
            int v = (int) INT.get(src, ip);
            int h = (v * 0x9E3779B1) >>> (32 - HASH_BITS);
            int ref = table[h] - b; // negative: empty, or left by an earlier call
            table[h] = b + ip;
            if (ref < 0 || ip - ref > MAX_OFFSET || (int) INT.get(src, ref) != v) {
                ip += 1 + (misses++ >>> SKIP_SHIFT);
                continue;
            }
            misses = 0;
            while (ip > anchor && ref > 0 && src[ip - 1] == src[ref - 1]) {
                ip--;
                ref--;
            }
            int len = MIN_MATCH + matchLength(src, ip + MIN_MATCH, ref + MIN_MATCH, n);
            op = sequence(src, anchor, ip - anchor, ip - ref, len, dst, op, limit);
            if (op < 0) {
                return -1;
            }
            ip += len;
            anchor = ip;
            if (ip - 2 < end) {
                table[((int) INT.get(src, ip - 2) * 0x9E3779B1) >>> (32 - HASH_BITS)] = b + ip - 2;
            }
        }
        return sequence(src, anchor, n - anchor, 0, 0, dst, op, limit);
    }

    /** Bytes equal at {@code a} and {@code b}, up to the end of the input at {@code n}. */
    private static int matchLength(byte[] src, int a, int b, int n) {
        int start = a;
        while (a + 8 <= n) {
            long x = (long) LONG.get(src, a) ^ (long) LONG.get(src, b);
            if (x != 0) {
                return a - start + (Long.numberOfTrailingZeros(x) >>> 3);
            }
            a += 8;
            b += 8;
        }
        while (a < n && src[a] == src[b]) {
            a++;
            b++;
        }
        return a - start;
    }

    /** Writes one sequence (a match of length 0 ends the block); -1 if it would pass {@code limit}. */
    private static int sequence(byte[] src, int from, int literals, int offset, int matchLen, byte[] dst, int op,
            int limit) {
        int m = matchLen == 0 ? 0 : matchLen - MIN_MATCH;
        long need = 1L + literals + extensionBytes(literals) + (matchLen == 0 ? 0 : 2 + extensionBytes(m));
        if (op + need > limit) {
            return -1;
        }
        dst[op++] = (byte) (Math.min(literals, 15) << 4 | Math.min(m, 15));
        op = extension(dst, op, literals);
        System.arraycopy(src, from, dst, op, literals);
        op += literals;
        if (matchLen == 0) {
            return op;
        }
        dst[op++] = (byte) offset;
        dst[op++] = (byte) (offset >>> 8);
        return extension(dst, op, m);
    }

    private static int extensionBytes(int len) {
        return len < 15 ? 0 : (len - 15) / 255 + 1;
    }

    private static int extension(byte[] dst, int op, int len) {
        if (len < 15) {
            return op;
        }
        len -= 15;
        while (len >= 255) {
            dst[op++] = (byte) 255;
            len -= 255;
        }
        dst[op++] = (byte) len;
        return op;
    }

    /**
     * Decompresses all of {@code src} into all of {@code dst}.
     *
     * @throws CorruptionException if {@code src} is not a well-formed block, or does not decode to exactly
     *                             {@code dst}'s size; nothing outside {@code dst} is written
     */
    public static void decompress(MemorySegment src, MemorySegment dst) {
        if (src.byteSize() > Integer.MAX_VALUE / 2 || dst.byteSize() > Integer.MAX_VALUE / 2) {
            throw new IllegalArgumentException("block of " + src.byteSize() + " or page of " + dst.byteSize()
                    + " bytes is too large");
        }
        int n = (int) src.byteSize();
        int size = (int) dst.byteSize();
        byte[][] buffers = DECODE_BUFFERS.get();
        if (buffers[0] == null || buffers[0].length < n) {
            buffers[0] = new byte[Math.max(n, 1 << 16)];
        }
        if (buffers[1] == null || buffers[1].length < size) {
            buffers[1] = new byte[Math.max(size, 1 << 16)];
        }
        MemorySegment.copy(src, ValueLayout.JAVA_BYTE, 0, buffers[0], 0, n);
        decompress(buffers[0], 0, n, buffers[1], size);
        MemorySegment.copy(buffers[1], 0, dst, ValueLayout.JAVA_BYTE, 0, size);
    }

    /**
     * Decompresses {@code src[from, from + n)} into exactly the first {@code size} bytes of {@code dst}.
     *
     * @throws CorruptionException if the block is not well formed or does not decode to exactly {@code size} bytes
     */
    public static void decompress(byte[] src, int from, int n, byte[] dst, int size) {
        if (from < 0 || n < 0 || from + n > src.length || size > dst.length) {
            throw new IllegalArgumentException("block [" + from + ", +" + n + ") or size " + size + " out of range");
        }
        int end = from + n;
        int ip = from;
        int op = 0;
        while (true) {
            if (ip >= end) {
                throw new CorruptionException("compressed block ends without its last sequence");
            }
            int token = src[ip++] & 0xFF;
            int literals = token >>> 4;
            if (literals == 15) {
                long r = extended(src, ip, end, literals, size, "literal count");
                literals = (int) (r >>> 32);
                ip = (int) r;
            }
            if (literals > end - ip || literals > size - op) {
                throw new CorruptionException("compressed block: " + literals + " literals at input " + (ip - from)
                        + " overrun the input (" + n + ") or the output (" + size + ")");
            }
            System.arraycopy(src, ip, dst, op, literals);
            ip += literals;
            op += literals;
            if (ip == end) {
                break;
            }
            if (end - ip < 2) {
                throw new CorruptionException("compressed block: truncated match offset at input " + (ip - from));
            }
            int offset = (src[ip] & 0xFF) | (src[ip + 1] & 0xFF) << 8;
            ip += 2;
            int len = (token & 15) + MIN_MATCH;
            if ((token & 15) == 15) {
                long r = extended(src, ip, end, len, size, "match length");
                len = (int) (r >>> 32);
                ip = (int) r;
            }
            if (offset == 0 || offset > op || len > size - op) {
                throw new CorruptionException("compressed block: match of " + len + " bytes at offset " + offset
                        + " from output " + op + " of " + size + " is out of range");
            }
            int from0 = op - offset;
            if (offset >= len) {
                System.arraycopy(dst, from0, dst, op, len);
                op += len;
            } else if (offset == 1) {
                Arrays.fill(dst, op, op + len, dst[from0]);
                op += len;
            } else {
                int left = len;
                while (left > 0) { // the copied span doubles each round, so source and target never overlap
                    int chunk = Math.min(left, op - from0);
                    System.arraycopy(dst, from0, dst, op, chunk);
                    op += chunk;
                    left -= chunk;
                }
            }
        }
        if (op != size) {
            throw new CorruptionException("compressed block decodes to " + op + " bytes, expected " + size);
        }
    }

    /**
     * Reads the extension bytes of a length field at {@code ip}: {@code (length << 32) | next input position}.
     * A length past {@code size} can only be damage, so it fails there (and cannot overflow).
     */
    private static long extended(byte[] src, int ip, int end, int length, int size, String what) {
        int b;
        do {
            if (ip >= end) {
                throw new CorruptionException("compressed block: truncated " + what + " at input " + ip);
            }
            b = src[ip++] & 0xFF;
            length += b;
            if (length > size) {
                throw new CorruptionException("compressed block: " + what + " " + length + "+ for a page of "
                        + size + " bytes");
            }
        } while (b == 255);
        return (long) length << 32 | ip;
    }
}
