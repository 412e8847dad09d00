package dev.strata.index.internal;

import static dev.strata.index.internal.NodeLayout.DELETE;
import static dev.strata.index.internal.NodeLayout.PUT;
import static dev.strata.index.internal.NodeLayout.UPSERT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** {@link BeTree#mergeBuffer} against a merge that takes one step per entry (what it did before galloping). */
class MergeBufferTest {
    private static final int[] KINDS = {PUT, DELETE, UPSERT};

    @Test
    void gallopingMergeEqualsAStepByStepMerge() {
        SplittableRandom rnd = new SplittableRandom(11);
        for (int round = 0; round < 3000; round++) {
            int domain = 1 + rnd.nextInt(round % 3 == 0 ? 8 : 2000);
            List<Msg> older = buffer(rnd, domain, rnd.nextInt(round % 5 == 0 ? 3 : 600));
            List<Msg> newer = batch(rnd, domain, rnd.nextInt(round % 7 == 0 ? 3000 : 80));
            List<Msg> expected = stepByStep(older, newer);
            List<Msg> actual = BeTree.mergeBuffer(older, newer, null);
            assertEquals(expected.size(), actual.size(), "round " + round);
            for (int i = 0; i < expected.size(); i++) {
                assertSame(expected.get(i), actual.get(i), "round " + round + ", entry " + i);
            }
        }
    }

    @Test
    void aLaterPutOrDeleteDropsTheOlderMessagesOfItsKeyOnEitherSide() {
        Msg a1 = msg(1, UPSERT);
        Msg b1 = msg(2, PUT);
        Msg b2 = msg(2, UPSERT);
        Msg c1 = msg(3, PUT);
        Msg a2 = msg(1, DELETE);
        Msg b3 = msg(2, UPSERT);
        Msg d1 = msg(4, PUT);
        Msg d2 = msg(4, UPSERT);
        Msg d3 = msg(4, PUT);
        List<Msg> out = BeTree.mergeBuffer(List.of(a1, b1, b2, c1), List.of(a2, b3, d1, d2, d3), null);
        assertEquals(List.of(a2, b1, b2, b3, c1, d3), out);
    }

    /** A buffer's entries: sorted, per key an optional PUT or DELETE followed by upserts. */
    private static List<Msg> buffer(SplittableRandom rnd, int domain, int n) {
        List<Msg> out = new ArrayList<>();
        int key = rnd.nextInt(Math.max(1, domain / 4 + 1));
        while (out.size() < n && key < domain) {
            if (rnd.nextBoolean()) {
                out.add(msg(key, rnd.nextBoolean() ? PUT : DELETE));
            }
            for (int u = rnd.nextInt(3); u > 0; u--) {
                out.add(msg(key, UPSERT));
            }
            key += 1 + rnd.nextInt(Math.max(1, domain / Math.max(1, n)));
        }
        return out;
    }

    /** A sorted batch: any kinds, a key any number of times. */
    private static List<Msg> batch(SplittableRandom rnd, int domain, int n) {
        List<Msg> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(msg(rnd.nextInt(domain), KINDS[rnd.nextInt(KINDS.length)]));
        }
        return BeTree.sortByKey(out);
    }

    private static Msg msg(int key, int kind) {
        byte[] k = {(byte) (key >>> 24), (byte) (key >>> 16), (byte) (key >>> 8), (byte) key, 7};
        return new Msg(k, kind, kind == UPSERT ? 1 : 0, kind == DELETE ? null : new byte[] {(byte) key});
    }

    private static List<Msg> stepByStep(List<Msg> older, List<Msg> newer) {
        List<Msg> out = new ArrayList<>();
        int i = 0;
        int j = 0;
        while (i < older.size() || j < newer.size()) {
            byte[] key;
            if (j >= newer.size() || (i < older.size() && Keys.compare(older.get(i).key(), newer.get(j).key()) < 0)) {
                key = older.get(i).key();
            } else {
                key = newer.get(j).key();
            }
            int runStart = out.size();
            while (i < older.size() && Keys.equal(older.get(i).key(), key)) {
                out.add(older.get(i++));
            }
            while (j < newer.size() && Keys.equal(newer.get(j).key(), key)) {
                out.add(newer.get(j++));
            }
            int lastBase = -1;
            for (int k = out.size() - 1; k >= runStart; k--) {
                if (out.get(k).kind() != UPSERT) {
                    lastBase = k;
                    break;
                }
            }
            if (lastBase > runStart) {
                out.subList(runStart, lastBase).clear();
            }
        }
        return out;
    }
}
