package dev.strata.index.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * A node encoded into a kept array that held another page's bytes writes every byte a fresh page's log holds
 * (header, pivots, slots, entries) as an encode into a new array does; only the free gap keeps old bytes.
 */
class NodeEncodeTest {
    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static Node internal() {
        Node n = new Node(7, 16384, false);
        for (long c = 1; c <= 5; c++) {
            n.children.add(100 + c);
        }
        for (String p : new String[] {"d", "h", "m", "t"}) {
            n.pivots.add(b(p));
        }
        for (String k : new String[] {"a", "e", "f", "n", "u", "z"}) {
            n.entries.add(new Msg(b(k), NodeLayout.PUT, 0, b("value-of-" + k)));
        }
        n.entries.add(new Msg(b("q"), NodeLayout.DELETE, 0, null));
        n.entries.sort((x, y) -> Keys.compare(x.key(), y.key()));
        return n;
    }

    private static Node leaf() {
        Node n = new Node(8, 4096, true);
        for (int i = 0; i < 40; i++) {
            n.entries.add(new Msg(b(String.format("key-%03d", i)), NodeLayout.PUT, 0, b("v" + i)));
        }
        return n;
    }

    @Test
    void aKeptArraysOldBytesStayOnlyInTheGap() {
        for (Node n : new Node[] {internal(), leaf()}) {
            byte[] fresh = n.encode();
            byte[] kept = new byte[n.pageBytes];
            Arrays.fill(kept, (byte) 0x5A);
            assertSame(kept, n.encodeInto(kept));
            MemorySegment img = MemorySegment.ofArray(kept);
            int nc = img.get(NodeLayout.INT, NodeLayout.OFF_NCHILDREN);
            int ne = img.get(NodeLayout.INT, NodeLayout.OFF_NENTRIES);
            int heap = img.get(NodeLayout.INT, NodeLayout.OFF_HEAP);
            int front = NodeLayout.slotBase(nc) + NodeLayout.SLOT * ne;
            assertEquals(n.entries.size(), ne);
            assertArrayEquals(Arrays.copyOfRange(fresh, 0, front), Arrays.copyOfRange(kept, 0, front),
                    "header, pivot slots, child starts and entry slots");
            assertArrayEquals(Arrays.copyOfRange(fresh, heap, n.pageBytes), Arrays.copyOfRange(kept, heap, n.pageBytes),
                    "pivots and entries");

            // what a fresh page holds after the two writes decodes as the node
            byte[] page = new byte[n.pageBytes];
            System.arraycopy(kept, 0, page, 0, front);
            System.arraycopy(kept, heap, page, heap, n.pageBytes - heap);
            Node back = Node.decode(n.pageId, MemorySegment.ofArray(page));
            assertEquals(n.children, back.children);
            assertEquals(n.pivots.size(), back.pivots.size());
            for (int i = 0; i < n.entries.size(); i++) {
                assertArrayEquals(n.entries.get(i).key(), back.entries.get(i).key());
                assertEquals(n.entries.get(i).type(), back.entries.get(i).type());
            }
        }
    }
}
