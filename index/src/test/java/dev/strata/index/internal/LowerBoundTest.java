package dev.strata.index.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;

/**
 * The search of a node's entry slots that starts where the key's head falls between the first and last heads
 * ({@link NodeLayout#lowerBound(MemorySegment, long, int, int, int, byte[], int)}) finds what a linear scan finds,
 * whatever the keys: dense, spread evenly or clustered, sharing their heads, shorter than a head, repeated (a buffer
 * holds several messages of one key), and for sub-ranges of the entries as a point read searches one child's
 * messages.
 */
class LowerBoundTest {
    private static byte[] int4(long v) {
        return new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
    }

    /** Encodes sorted keys as a node's entries (a leaf, or an internal node's buffer under 3 children). */
    private static MemorySegment page(List<byte[]> keys, boolean leaf) {
        Node n = new Node(9, 64 * 1024, leaf);
        if (!leaf) {
            n.children.add(1L);
            n.children.add(2L);
            n.children.add(3L);
            n.pivots.add(new byte[] {0x10});
            n.pivots.add(new byte[] {(byte) 0xE0});
        }
        for (byte[] k : keys) {
            n.entries.add(new Msg(k, NodeLayout.PUT, 0, new byte[] {1}));
        }
        return MemorySegment.ofArray(n.encode());
    }

    private static int linear(List<byte[]> keys, int lo, int hi, byte[] key) {
        int i = lo;
        while (i < hi && Keys.compare(keys.get(i), key) < 0) {
            i++;
        }
        return i;
    }

    private static void check(String what, List<byte[]> keys, SplittableRandom rnd, IntFunction<byte[]> probe) {
        keys.sort(Keys::compare);
        for (boolean leaf : new boolean[] {true, false}) {
            MemorySegment m = page(keys, leaf);
            int nc = m.get(NodeLayout.INT, NodeLayout.OFF_NCHILDREN);
            int ne = keys.size();
            for (int t = 0; t < 2000; t++) {
                byte[] key = t % 3 == 0 ? keys.get(rnd.nextInt(ne)) : probe.apply(t);
                int lo = t % 4 == 0 ? rnd.nextInt(ne + 1) : 0;
                int hi = t % 4 == 0 ? lo + rnd.nextInt(ne - lo + 1) : ne;
                int got = NodeLayout.lowerBound(m, 0, nc, lo, hi, key, NodeLayout.head(key));
                assertEquals(linear(keys, lo, hi, key), got, what + (leaf ? " leaf" : " buffer") + " [" + lo + ", "
                        + hi + ") key " + java.util.HexFormat.of().formatHex(key));
            }
        }
    }

    @Test
    void evenlySpreadNumbersAndRandomOnes() {
        SplittableRandom rnd = new SplittableRandom(1);
        for (int n : new int[] {15, 16, 17, 40, 140, 600}) {
            List<byte[]> seq = new ArrayList<>();
            long start = rnd.nextLong(1L << 31);
            for (int i = 0; i < n; i++) {
                seq.add(int4(start + 3L * i));
            }
            check("sequential " + n, seq, rnd, t -> int4(start + rnd.nextLong(-10, 3L * n + 10)));
            List<byte[]> random = new ArrayList<>();
            java.util.Set<Long> seen = new java.util.HashSet<>();
            while (random.size() < n) {
                long v = rnd.nextLong(1L << 32);
                if (seen.add(v)) {
                    random.add(int4(v));
                }
            }
            check("random " + n, random, rnd, t -> int4(rnd.nextLong(1L << 32)));
        }
    }

    @Test
    void clusteredSharedHeadsShortKeysAndRepeats() {
        SplittableRandom rnd = new SplittableRandom(2);
        // most keys in a narrow band, a few far out: the guess lands far from the answer
        List<byte[]> clustered = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            clustered.add(int4(i < 190 ? 0x40000000L + i : 0xF0000000L + (long) i * 1000));
        }
        check("clustered", clustered, rnd, t -> int4(0x40000000L + rnd.nextLong(-5, 400)));
        // one head for all, told apart by their later bytes
        List<byte[]> shared = new ArrayList<>();
        for (int i = 0; i < 150; i++) {
            shared.add(("user" + String.format("%06d", i * 7)).getBytes());
        }
        check("shared heads", shared, rnd, t -> ("user" + String.format("%06d", rnd.nextInt(1100))).getBytes());
        // keys shorter than a head next to longer ones with the same bytes (zero-padded heads tie)
        List<byte[]> shortKeys = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            shortKeys.add(new byte[] {(byte) (i * 4)});
            shortKeys.add(new byte[] {(byte) (i * 4), 0});
            shortKeys.add(new byte[] {(byte) (i * 4), 0, 0, 0, 1});
        }
        check("short keys", shortKeys, rnd, t -> {
            byte[] k = new byte[rnd.nextInt(1, 6)];
            k[0] = (byte) rnd.nextInt(256);
            return k;
        });
        // a buffer's repeated messages of a key: the first of them is the answer
        List<byte[]> repeats = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            int copies = 1 + rnd.nextInt(5);
            for (int c = 0; c < copies; c++) {
                repeats.add(int4(0x01000000L * (i + 1)));
            }
        }
        check("repeats", repeats, rnd, t -> int4(rnd.nextLong(0x01000000L * 52)));
    }

    /** The same start for a node's pivots: the child is the number of pivots at or before the key. */
    @Test
    void childSearchFindsWhatACountFinds() {
        SplittableRandom rnd = new SplittableRandom(3);
        for (int np : new int[] {15, 16, 40, 255}) {
            List<List<byte[]>> shapes = new ArrayList<>();
            List<byte[]> even = new ArrayList<>();
            List<byte[]> random = new ArrayList<>();
            List<byte[]> shared = new ArrayList<>();
            List<byte[]> dense = new ArrayList<>();
            java.util.Set<Long> seen = new java.util.HashSet<>();
            for (int i = 0; i < np; i++) {
                even.add(int4(0x10000000L + 9000L * i));
                dense.add(int4(0x20000000L + 2L * i + (i % 3 == 0 ? 1 : 0)));
                long v;
                do {
                    v = rnd.nextLong(1L << 32);
                } while (!seen.add(v));
                random.add(int4(v));
                shared.add(("item" + String.format("%05d", i * 3)).getBytes());
            }
            shapes.add(even);
            shapes.add(random);
            shapes.add(shared);
            shapes.add(dense);
            for (List<byte[]> pivots : shapes) {
                pivots.sort(Keys::compare);
                Node n = new Node(9, 64 * 1024, false);
                for (int c = 0; c <= np; c++) {
                    n.children.add(100L + c);
                }
                n.pivots.addAll(pivots);
                MemorySegment m = MemorySegment.ofArray(n.encode());
                for (int t = 0; t < 3000; t++) {
                    byte[] key = switch (t % 5) {
                        case 0 -> pivots.get(rnd.nextInt(np));
                        case 1 -> int4(rnd.nextLong(1L << 32));
                        case 4 -> int4(0x20000000L + rnd.nextLong(-3, 2L * np + 3));
                        case 2 -> int4(0x10000000L + rnd.nextLong(-5000, 9000L * np + 5000));
                        default -> ("item" + String.format("%05d", rnd.nextInt(3 * np + 2))).getBytes();
                    };
                    int expected = 0;
                    while (expected < np && Keys.compare(pivots.get(expected), key) <= 0) {
                        expected++;
                    }
                    assertEquals(expected, NodeLayout.findChild(m, 0, np + 1, key),
                            np + " pivots, key " + java.util.HexFormat.of().formatHex(key));
                }
            }
        }
    }
}
