package dev.strata.index.internal;

import static dev.strata.index.internal.NodeLayout.PUT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** {@link BeTree#sortByKey} against a stable sort by unsigned key order, with and without its already-sorted path. */
class SortByKeyTest {
    private static final Comparator<Msg> BY_KEY = (a, b) -> Keys.compare(a.key(), b.key());

    @Test
    void sortsStablyByUnsignedKeyOrder() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (int round = 0; round < 2000; round++) {
            int n = rnd.nextInt(round % 10 == 0 ? 2000 : 60);
            List<Msg> in = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                // short keys, keys sharing their first 4 bytes, bytes above 0x7f, repeated keys
                byte[] k = new byte[rnd.nextInt(7)];
                for (int b = 0; b < k.length; b++) {
                    k[b] = (byte) (b < 2 ? rnd.nextInt(3) * 0x60 : rnd.nextInt(256));
                }
                in.add(new Msg(k, PUT, 0, new byte[] {(byte) i}));
            }
            if (round % 3 == 0) {
                in.sort(BY_KEY); // sorted input, ties included
            }
            if (round % 3 == 1) {
                in.sort(BY_KEY); // strictly ascending input: one message per key
                for (int i = in.size() - 1; i > 0; i--) {
                    if (Keys.compare(in.get(i - 1).key(), in.get(i).key()) == 0) {
                        in.remove(i);
                    }
                }
            }
            List<Msg> expected = new ArrayList<>(in);
            expected.sort(BY_KEY); // List.sort is stable
            List<Msg> actual = BeTree.sortByKey(in);
            assertEquals(expected.size(), actual.size(), "round " + round);
            for (int i = 0; i < expected.size(); i++) {
                assertSame(expected.get(i), actual.get(i), "round " + round + ", message " + i);
            }
        }
    }

    @Test
    void anAlreadySortedBatchComesBackAsACopy() {
        List<Msg> in = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            in.add(new Msg(new byte[] {0, 0, (byte) (i >>> 8), (byte) i}, PUT, 0, new byte[] {1}));
        }
        List<Msg> sorted = BeTree.sortByKey(in);
        assertEquals(in, sorted);
        // the writer replaces large values in the sorted list by overflow pointers: the caller's batch keeps its own
        Msg first = in.get(0);
        sorted.set(0, new Msg(first.key(), PUT, 0, new byte[] {2}));
        assertSame(first, in.get(0));
    }
}
