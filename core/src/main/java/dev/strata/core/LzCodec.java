package dev.strata.core;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
 * <p>An instance holds the compressor's hash table and is not thread-safe; {@link #decompress} is static.
 */
public final class LzCodec {
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final int MIN_MATCH = 4;
    private static final int MAX_OFFSET = 65535;
    private static final int HASH_BITS = 14;
    /** Bytes at the end of the input never start a match (the compressor reads 8 bytes at a time). */
    private static final int TAIL = 12;
    /** After this many misses in a row the search step grows by one, so incompressible input costs little. */
    private static final int SKIP_SHIFT = 6;

    private final int[] table = new int[1 << HASH_BITS];

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
        if (n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("input of " + n + " bytes is too large");
        }
        Arrays.fill(table, -1);
        long op = 0;
        int anchor = 0;
        int ip = 0;
        int end = (int) n - TAIL;
        int misses = 0;
        while (ip < end) {
            int v = src.get(INT, ip);
            int h = (v * 0x9E3779B1) >>> (32 - HASH_BITS);
            int ref = table[h];
            table[h] = ip;
            if (ref < 0 || ip - ref > MAX_OFFSET || src.get(INT, ref) != v) {
                ip += 1 + (misses++ >>> SKIP_SHIFT);
                continue;
            }
            misses = 0;
            while (ip > anchor && ref > 0 && byteAt(src, ip - 1) == byteAt(src, ref - 1)) {
                ip--;
                ref--;
            }
            int len = MIN_MATCH + matchLength(src, ip + MIN_MATCH, ref + MIN_MATCH, (int) n);
            op = sequence(src, anchor, ip - anchor, ip - ref, len, dst, op, limit);
            if (op < 0) {
                return -1;
            }
            ip += len;
            anchor = ip;
            if (ip - 2 < end && ip - 2 >= 0) {
                table[(src.get(INT, ip - 2) * 0x9E3779B1) >>> (32 - HASH_BITS)] = ip - 2;
            }
        }
        return sequence(src, anchor, (int) n - anchor, 0, 0, dst, op, limit);
    }

    /** Bytes equal at {@code a} and {@code b}, up to the end of the input at {@code n}. */
    private static int matchLength(MemorySegment src, int a, int b, int n) {
        int start = a;
        while (a + 8 <= n) {
            long x = src.get(LONG, a) ^ src.get(LONG, b);
            if (x != 0) {
                return a - start + (Long.numberOfTrailingZeros(x) >>> 3);
            }
            a += 8;
            b += 8;
        }
        while (a < n && byteAt(src, a) == byteAt(src, b)) {
            a++;
            b++;
        }
        return a - start;
    }

    /** Writes one sequence (a match of length 0 ends the block); -1 if it would pass {@code limit}. */
    private static long sequence(MemorySegment src, int from, int literals, int offset, int matchLen,
            MemorySegment dst, long op, long limit) {
        int m = matchLen == 0 ? 0 : matchLen - MIN_MATCH;
        long need = 1 + literals + extensionBytes(literals) + (matchLen == 0 ? 0 : 2 + extensionBytes(m));
        if (op + need > limit) {
            return -1;
        }
        dst.set(ValueLayout.JAVA_BYTE, op++, (byte) (Math.min(literals, 15) << 4 | Math.min(m, 15)));
        op = extension(dst, op, literals);
        MemorySegment.copy(src, from, dst, op, literals);
        op += literals;
        if (matchLen == 0) {
            return op;
        }
        dst.set(ValueLayout.JAVA_BYTE, op++, (byte) offset);
        dst.set(ValueLayout.JAVA_BYTE, op++, (byte) (offset >>> 8));
        return extension(dst, op, m);
    }

    private static int extensionBytes(int len) {
        return len < 15 ? 0 : (len - 15) / 255 + 1;
    }

    private static long extension(MemorySegment dst, long op, int len) {
        if (len < 15) {
            return op;
        }
        len -= 15;
        while (len >= 255) {
            dst.set(ValueLayout.JAVA_BYTE, op++, (byte) 255);
            len -= 255;
        }
        dst.set(ValueLayout.JAVA_BYTE, op++, (byte) len);
        return op;
    }

    /**
     * Decompresses all of {@code src} into all of {@code dst}.
     *
     * @throws CorruptionException if {@code src} is not a well-formed block, or does not decode to exactly
     *                             {@code dst}'s size; nothing outside {@code dst} is written
     */
    public static void decompress(MemorySegment src, MemorySegment dst) {
        long n = src.byteSize();
        long out = dst.byteSize();
        long ip = 0;
        long op = 0;
        while (true) {
            if (ip >= n) {
                throw new CorruptionException("compressed block ends without its last sequence");
            }
            int token = byteAt(src, ip++);
            long literals = token >>> 4;
            if (literals == 15) {
                int b;
                do {
                    if (ip >= n) {
                        throw new CorruptionException("compressed block: truncated literal length at input " + ip);
                    }
                    b = byteAt(src, ip++);
                    literals += b;
                } while (b == 255);
            }
            if (literals > n - ip || literals > out - op) {
                throw new CorruptionException("compressed block: " + literals + " literals at input " + ip
                        + " overrun the input (" + n + ") or the output (" + out + ")");
            }
            MemorySegment.copy(src, ip, dst, op, literals);
            ip += literals;
            op += literals;
            if (ip == n) {
                break;
            }
            if (n - ip < 2) {
                throw new CorruptionException("compressed block: truncated match offset at input " + ip);
            }
            int offset = byteAt(src, ip) | byteAt(src, ip + 1) << 8;
            ip += 2;
            long len = (token & 15) + MIN_MATCH;
            if ((token & 15) == 15) {
                int b;
                do {
                    if (ip >= n) {
                        throw new CorruptionException("compressed block: truncated match length at input " + ip);
                    }
                    b = byteAt(src, ip++);
                    len += b;
                } while (b == 255);
            }
            if (offset == 0 || offset > op || len > out - op) {
                throw new CorruptionException("compressed block: match of " + len + " bytes at offset " + offset
                        + " from output " + op + " of " + out + " is out of range");
            }
            long from = op - offset;
            long left = len;
            while (left > 0) { // the copied span doubles each round, so source and target never overlap
                long chunk = Math.min(left, op - from);
                MemorySegment.copy(dst, from, dst, op, chunk);
                op += chunk;
                left -= chunk;
            }
        }
        if (op != out) {
            throw new CorruptionException("compressed block decodes to " + op + " bytes, expected " + out);
        }
    }

    private static int byteAt(MemorySegment s, long at) {
        return s.get(ValueLayout.JAVA_BYTE, at) & 0xFF;
    }
}
