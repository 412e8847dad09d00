package dev.strata.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class LzCodecTest {
    private final LzCodec codec = new LzCodec();

    private byte[] compress(byte[] in) {
        byte[] out = new byte[(int) LzCodec.maxCompressedLength(in.length)];
        long n = codec.compress(MemorySegment.ofArray(in), MemorySegment.ofArray(out), out.length);
        assertTrue(n > 0, "the worst-case bound must always fit");
        return Arrays.copyOf(out, (int) n);
    }

    private static byte[] decompress(byte[] block, int size) {
        byte[] out = new byte[size];
        LzCodec.decompress(MemorySegment.ofArray(block), MemorySegment.ofArray(out));
        return out;
    }

    private void roundTrip(byte[] in) {
        byte[] block = compress(in);
        assertArrayEquals(in, decompress(block, in.length));
    }

    /** Records as an index leaf holds them: a slot array, random 16-byte keys, one repeated 100-byte value. */
    private static byte[] leafLike(int size, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        byte[] value = new byte[100];
        rnd.nextBytes(value);
        byte[] page = new byte[size];
        int at = size / 16;
        for (int i = 0; at + 120 < size; i++) {
            page[i * 2] = (byte) at;
            page[i * 2 + 1] = (byte) (at >> 8);
            page[at] = 16;
            page[at + 2] = 100;
            for (int k = 0; k < 16; k++) {
                page[at + 4 + k] = (byte) rnd.nextInt();
            }
            System.arraycopy(value, 0, page, at + 20, 100);
            at += 120;
        }
        return page;
    }

    @Test
    void roundTripsEveryShapeOfInput() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int size : new int[] {0, 1, 3, 4, 11, 12, 13, 15, 16, 17, 31, 100, 255, 256, 270, 4096, 16384, 65536,
                65537, 262144}) {
            byte[] random = new byte[size];
            rnd.nextBytes(random);
            roundTrip(random);
            roundTrip(new byte[size]);
            for (int period : new int[] {1, 2, 3, 7, 100, 1000, 70000}) {
                byte[] repeated = new byte[size];
                for (int i = 0; i < size; i++) {
                    repeated[i] = i % period < Math.min(period, 40) ? (byte) (i % period * 31) : (byte) rnd.nextInt();
                }
                roundTrip(repeated);
            }
            roundTrip(leafLike(Math.max(size, 200), size));
        }
    }

    /**
     * Every match length from a few bytes to past 300, ending at the end of the input or at one differing byte: the
     * lengths the inline 8-byte compare and the vectorized rest of the match each decide.
     */
    @Test
    void roundTripsMatchesOfEveryLengthUpToTheInputsEnd() {
        SplittableRandom rnd = new SplittableRandom(11);
        byte[] prefix = new byte[320];
        rnd.nextBytes(prefix);
        for (int length = 1; length <= 320; length++) {
            for (int tail : new int[] {0, 1, 9}) {
                byte[] in = new byte[prefix.length + length + tail];
                System.arraycopy(prefix, 0, in, 0, prefix.length);
                System.arraycopy(prefix, 0, in, prefix.length, length);
                if (tail > 0) {
                    in[prefix.length + length] = (byte) ~prefix[length % prefix.length];
                }
                roundTrip(in);
            }
        }
    }

    @Test
    void leafPagesCompressSeveralFoldAndRandomBytesDoNot() {
        byte[] leaf = leafLike(16384, 1);
        int leafBlock = compress(leaf).length;
        assertTrue(leafBlock < leaf.length / 4, "leaf compressed to " + leafBlock);
        byte[] random = new byte[65536];
        new SplittableRandom(2).nextBytes(random);
        byte[] out = new byte[65536];
        assertEquals(-1, codec.compress(MemorySegment.ofArray(random), MemorySegment.ofArray(out), 65536 - 4096),
                "random bytes do not fit in one 4 KiB block less than the page");
        assertEquals(-1, codec.compress(MemorySegment.ofArray(leaf), MemorySegment.ofArray(out), leafBlock - 1));
        assertEquals(leafBlock, codec.compress(MemorySegment.ofArray(leaf), MemorySegment.ofArray(out), leafBlock));
    }

    /**
     * One codec compresses input after input without clearing its hash table: a position left by a longer
     * earlier input (past the current one's end, over the same zeros) must never be taken for a match, and
     * the table's position numbering wraps after 2 GiB of input in all.
     */
    @Test
    void oneCodecKeepsCompressingCorrectlyAcrossCallsAndThroughItsTablesWrap() {
        SplittableRandom rnd = new SplittableRandom(11);
        byte[] zeros = new byte[65536];
        roundTrip(zeros);
        byte[] shortOne = new byte[3000];
        shortOne[1500] = 7;
        roundTrip(shortOne); // zeros at the long input's hashed positions, which lie past this one's end
        byte[] big = new byte[16 << 20];
        long total = 0;
        for (int i = 0; total < (2L << 30) + (64L << 20); i++) {
            Arrays.fill(big, (byte) 0);
            int at = rnd.nextInt(big.length - 8192);
            byte[] noise = new byte[4096];
            rnd.nextBytes(noise);
            System.arraycopy(noise, 0, big, at, noise.length);
            System.arraycopy(noise, 0, big, at + 4096, noise.length); // a match 4 KiB back
            roundTrip(big);
            total += big.length + 1;
            byte[] small = leafLike(16384, i);
            roundTrip(small);
            total += small.length + 1;
        }
    }

    @Test
    void aMisfitLimitIsRefused() {
        assertThrows(IllegalArgumentException.class,
                () -> codec.compress(MemorySegment.ofArray(new byte[10]), MemorySegment.ofArray(new byte[10]), 11));
    }

    @Test
    void damagedBlocksFailWithCorruptionNeverAnotherError() {
        byte[] leaf = leafLike(16384, 3);
        byte[] block = compress(leaf);
        // every truncation: a block cut short never decodes to the full page
        for (int cut = 0; cut < block.length; cut++) {
            byte[] shorter = Arrays.copyOf(block, cut);
            assertThrows(CorruptionException.class, () -> decompress(shorter, leaf.length), "cut at " + cut);
        }
        // a longer or shorter page than encoded
        assertThrows(CorruptionException.class, () -> decompress(block, leaf.length - 1));
        assertThrows(CorruptionException.class, () -> decompress(block, leaf.length + 1));
        // random damage: decodes to something (the page file's CRC catches that) or fails as corruption
        SplittableRandom rnd = new SplittableRandom(4);
        int failed = 0;
        for (int i = 0; i < 20_000; i++) {
            byte[] bad = block.clone();
            for (int k = 1 + rnd.nextInt(3); k > 0; k--) {
                bad[rnd.nextInt(bad.length)] = (byte) rnd.nextInt();
            }
            try {
                decompress(bad, leaf.length);
            } catch (CorruptionException expected) {
                failed++;
            }
        }
        assertTrue(failed > 1000, "only " + failed + " of 20,000 damaged blocks were refused");
    }

    @Test
    void decodesIntoNativeMemoryWithoutWritingPastIt() {
        byte[] leaf = leafLike(65536, 5);
        byte[] block = compress(leaf);
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment all = arena.allocate(65536 + 64);
            all.fill((byte) 0x5A);
            MemorySegment dst = all.asSlice(32, 65536);
            LzCodec.decompress(MemorySegment.ofArray(block), dst);
            assertArrayEquals(leaf, dst.toArray(ValueLayout.JAVA_BYTE));
            for (int i = 0; i < 32; i++) {
                assertEquals(0x5A, all.get(ValueLayout.JAVA_BYTE, i));
                assertEquals(0x5A, all.get(ValueLayout.JAVA_BYTE, 65536 + 32 + i));
            }
        }
    }
}
