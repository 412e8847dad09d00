package dev.strata.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class BatchFormatTest {
    private static List<String> decode(byte[] payload) {
        List<String> out = new ArrayList<>();
        BatchFormat.decode(MemorySegment.ofArray(payload), new BatchFormat.Visitor() {
            @Override
            public void delta(long pageNo, int offset, MemorySegment bytes) {
                out.add("delta " + pageNo + "@" + offset + "=" + Arrays.toString(bytes.toArray(ValueLayout.JAVA_BYTE)));
            }

            @Override
            public void alloc(long pageNo, int sizeClass) {
                out.add("alloc " + pageNo + "/" + sizeClass);
            }

            @Override
            public void free(long pageNo) {
                out.add("free " + pageNo);
            }

            @Override
            public void move(long pageNo, int src, int dst, int length) {
                out.add("move " + pageNo + " " + length + "@" + src + "->" + dst);
            }
        });
        return out;
    }

    private static byte[] sample() {
        return new BatchFormat.Encoder().alloc(7, 2).delta(7, 100, MemorySegment.ofArray(new byte[] {1, 2, 3}))
                .free(9).move(7, 4000, 4096, 64).toBytes();
    }

    /** Offset of the move entry in {@link #sample()}: count, three headers and the delta's 3 bytes. */
    private static final int MOVE_AT = 4 + 3 * 20 + 3;

    @Test
    void roundTripsEntriesInOrder() {
        assertEquals(List.of("alloc 7/2", "delta 7@100=[1, 2, 3]", "free 9", "move 7 64@4000->4096"),
                decode(sample()));
    }

    @Test
    void movesThatDoNotFitAPageOrCarryOtherThanTheirTwoFieldsAreRejected() {
        int[][] cases = {
            {MOVE_AT + 16, 12}, // length field: a move carries exactly 8 bytes
            {MOVE_AT + 20, PageSize.MAX - 8}, // src + length past the largest page
            {MOVE_AT + 4, PageSize.MAX - 8}, // dst + length past the largest page
            {MOVE_AT + 24, -1}, // negative length
            {MOVE_AT + 20, -5}, // negative src
        };
        for (int[] c : cases) {
            byte[] bad = sample();
            ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putInt(c[0], c[1]);
            assertThrows(CorruptionException.class, () -> decode(bad), "field at " + c[0] + " = " + c[1]);
        }
        assertThrows(IllegalArgumentException.class, () -> new BatchFormat.Encoder().move(1, -1, 0, 8));
    }

    @Test
    void truncatedPayloadIsReportedNotFollowed() {
        byte[] whole = sample();
        for (int cut = 0; cut < whole.length; cut++) {
            byte[] part = Arrays.copyOf(whole, cut);
            assertThrows(CorruptionException.class, () -> decode(part), "cut at " + cut);
        }
    }

    @Test
    void lengthsAndCountsThatDoNotFitAreRejected() {
        byte[] bogusCount = sample();
        ByteBuffer.wrap(bogusCount).order(ByteOrder.LITTLE_ENDIAN).putInt(0, Integer.MAX_VALUE);
        assertThrows(CorruptionException.class, () -> decode(bogusCount));

        byte[] hugeDelta = sample();
        // the delta is the second entry: header at 4 + 20; its length field at +16
        ByteBuffer.wrap(hugeDelta).order(ByteOrder.LITTLE_ENDIAN).putInt(4 + 20 + 16, Integer.MAX_VALUE);
        assertThrows(CorruptionException.class, () -> decode(hugeDelta));

        byte[] pastPage = sample();
        ByteBuffer.wrap(pastPage).order(ByteOrder.LITTLE_ENDIAN).putInt(4 + 20 + 4, PageSize.MAX - 1);
        assertThrows(CorruptionException.class, () -> decode(pastPage));

        byte[] badType = sample();
        badType[4] = 42;
        assertThrows(CorruptionException.class, () -> decode(badType));

        byte[] trailing = Arrays.copyOf(sample(), sample().length + 1);
        assertThrows(CorruptionException.class, () -> decode(trailing));
    }

    @Test
    void encoderResetsAndCounts() {
        BatchFormat.Encoder e = new BatchFormat.Encoder().alloc(1, 0);
        assertEquals(1, e.count());
        e.reset();
        assertEquals(0, e.count());
        assertArrayEquals(new byte[] {0, 0, 0, 0}, e.toBytes());
    }

    @Test
    void finishedEncoderHandsItsBufferToTheNextWithoutLeakingBytes() {
        BatchFormat.Encoder big = new BatchFormat.Encoder();
        for (int i = 0; i < 100; i++) {
            big.delta(i, 8, MemorySegment.ofArray(new byte[1000]).fill((byte) 0x5A));
        }
        byte[] first = big.toBytes();
        assertArrayEquals(first, big.finish());
        assertEquals(0, big.count());
        // the next encoder on this thread reuses the grown buffer: only its own entries come out
        assertEquals(List.of("alloc 7/2", "delta 7@100=[1, 2, 3]", "free 9", "move 7 64@4000->4096"),
                decode(sample()));
        // a finished encoder stays usable
        assertEquals(List.of("free 3"), decode(big.free(3).finish()));
    }

    @Test
    void releasedBufferHoldsThePayloadUncopiedAndARecycledOneLeaksNoBytes() {
        BatchFormat.Encoder e = new BatchFormat.Encoder();
        for (int i = 0; i < 50; i++) {
            e.delta(i, 8, MemorySegment.ofArray(new byte[1000]).fill((byte) 0x5A));
        }
        byte[] copy = e.toBytes();
        int length = e.sizeBytes();
        MemorySegment released = e.release();
        assertTrue(released.byteSize() >= length);
        assertTrue(released.isNative(), "payload buffers live off the Java heap");
        assertArrayEquals(copy, released.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE));
        assertEquals(0, e.count());
        assertEquals(List.of("free 3"), decode(e.free(3).toBytes()), "a released encoder stays usable");
        BatchFormat.Encoder.recycle(released);
        assertEquals(List.of("alloc 7/2", "delta 7@100=[1, 2, 3]", "free 9", "move 7 64@4000->4096"),
                decode(sample()));
        BatchFormat.Encoder.recycle(MemorySegment.ofArray(new byte[16])); // not the pool's: left alone
        BatchFormat.Encoder.recycle(MemorySegment.NULL);
        assertEquals(List.of("free 1"), decode(new BatchFormat.Encoder().free(1).finish()));
    }

    /** Buffers go back to the pool and come out again: encoding batch after batch allocates no more memory. */
    @Test
    void batchAfterBatchReusesThePoolsBuffers() {
        for (int round = 0; round < 3; round++) {
            BatchFormat.Encoder e = new BatchFormat.Encoder();
            for (int i = 0; i < 300; i++) {
                e.delta(i, 8, MemorySegment.ofArray(new byte[1000]));
            }
            BatchFormat.Encoder.recycle(e.release());
        }
        long pooled = BatchFormat.Encoder.pooledBytes();
        for (int round = 0; round < 20; round++) {
            BatchFormat.Encoder e = new BatchFormat.Encoder();
            for (int i = 0; i < 300; i++) {
                e.delta(i, 8, MemorySegment.ofArray(new byte[1000]));
            }
            assertEquals(300, decode(e.finish()).size());
        }
        assertEquals(pooled, BatchFormat.Encoder.pooledBytes());
    }
}
