package dev.strata.index.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import org.junit.jupiter.api.Test;

class TxnImagesTest {
    @Test
    void keptArraysComeBackBySizeAndAtMostTheBoundIsKept() {
        int size = 12_345; // a size no index here uses, so other tests' arrays are not in the way
        assertNull(Txn.Images.take(size), "nothing kept yet");
        byte[] a = new byte[size];
        Txn.Images.give(a);
        Txn.Images.give(new byte[size + 1]);
        assertSame(a, Txn.Images.take(size));
        assertNull(Txn.Images.take(size), "each kept array is handed out once");
        Txn.Images.give(null); // ignored

        int bound = (int) (Txn.Images.BYTES_PER_SIZE / size);
        List<byte[]> given = new ArrayList<>();
        for (int i = 0; i < bound + 10; i++) {
            byte[] b = new byte[size];
            given.add(b);
            Txn.Images.give(b);
        }
        IdentityHashMap<byte[], Boolean> back = new IdentityHashMap<>();
        for (byte[] b; (b = Txn.Images.take(size)) != null; ) {
            assertEquals(size, b.length);
            back.put(b, true);
        }
        assertEquals(bound, back.size(), "at most BYTES_PER_SIZE of one size is kept");
        for (int i = 0; i < bound; i++) {
            assertSame(true, back.get(given.get(i)), "the first ones given are the ones kept");
        }
        byte[] other = Txn.Images.take(size + 1);
        assertEquals(size + 1, other == null ? -1 : other.length, "another size keeps its own arrays");
    }
}
