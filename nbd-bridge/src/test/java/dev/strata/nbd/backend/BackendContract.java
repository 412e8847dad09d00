package dev.strata.nbd.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.strata.nbd.Backend;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Behaviour every {@link Backend} must have; subclasses supply the backend. */
@Timeout(60)
abstract class BackendContract {
    static final long SIZE = 4 << 20;
    Backend backend;

    /** A fresh, empty backend of {@link #SIZE} bytes. */
    abstract Backend open() throws Exception;

    void cleanup() throws Exception {}

    /** Scale of the randomized tests; slow remote stores lower it. */
    int rounds() {
        return 60;
    }

    @BeforeEach
    void setUp() throws Exception {
        backend = open();
    }

    @AfterEach
    void tearDown() throws Exception {
        backend.close();
        backend.close(); // idempotent
        cleanup();
    }

    byte[] read(long off, int len) throws Exception {
        byte[] b = new byte[len];
        backend.readAt(off, MemorySegment.ofArray(b));
        return b;
    }

    void write(long off, byte[] b) throws Exception {
        backend.writeAt(off, MemorySegment.ofArray(b));
    }

    @Test
    void readsZeroesWhereNothingWasWritten() throws Exception {
        assertEquals(SIZE, backend.size());
        assertArrayEquals(new byte[100_000], read(SIZE - 100_000, 100_000));
    }

    @Test
    void unalignedWritesAndReadsMatchAModel() throws Exception {
        byte[] model = new byte[(int) SIZE];
        Random rnd = new Random(42);
        for (int i = 0; i < rounds(); i++) {
            int len = 1 + rnd.nextInt(300_000);
            int off = rnd.nextInt((int) SIZE - len);
            byte[] data = new byte[len];
            rnd.nextBytes(data);
            write(off, data);
            System.arraycopy(data, 0, model, off, len);
        }
        backend.sync();
        for (int i = 0; i < rounds() / 2; i++) {
            int len = 1 + rnd.nextInt(500_000);
            int off = rnd.nextInt((int) SIZE - len);
            byte[] expect = java.util.Arrays.copyOfRange(model, off, off + len);
            assertArrayEquals(expect, read(off, len), "at " + off + "+" + len);
        }
        assertArrayEquals(model, read(0, (int) SIZE));
    }

    @Test
    void concurrentSubChunkWritesToOneChunkAreAllKept() throws Exception {
        int pieces = Math.min(64, rounds());
        int piece = 512;
        long base = 3 * 65536 + 1000;
        try (ExecutorService ex = Executors.newFixedThreadPool(8)) {
            List<Future<?>> fs = new ArrayList<>();
            for (int p = 0; p < pieces; p++) {
                int n = p;
                fs.add(ex.submit((Callable<Void>) () -> {
                    byte[] b = new byte[piece];
                    java.util.Arrays.fill(b, (byte) (n + 1));
                    write(base + (long) n * piece, b);
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get();
            }
        }
        byte[] all = read(base, pieces * piece);
        for (int p = 0; p < pieces; p++) {
            assertEquals((byte) (p + 1), all[p * piece], "piece " + p);
            assertEquals((byte) (p + 1), all[p * piece + piece - 1], "piece " + p);
        }
    }

    @Test
    void trimAndZeroMakeRangesReadAsZeroes() throws Exception {
        byte[] ones = new byte[1 << 20];
        java.util.Arrays.fill(ones, (byte) 1);
        write(0, ones);
        backend.trim(1000, 300_000);
        backend.zero(500_000, 200_000, false);
        byte[] got = read(0, 1 << 20);
        for (int i = 0; i < got.length; i++) {
            boolean zero = (i >= 1000 && i < 301_000) || (i >= 500_000 && i < 700_000);
            if (got[i] != (zero ? 0 : 1)) {
                throw new AssertionError("byte " + i + " = " + got[i]);
            }
        }
    }

    @Test
    void nativeSegmentsWorkAsWellAsHeapOnes() throws Exception {
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment src = arena.allocate(70_000);
            for (int i = 0; i < 70_000; i++) {
                src.set(ValueLayout.JAVA_BYTE, i, (byte) i);
            }
            backend.writeAt(12_345, src);
            MemorySegment dst = arena.allocate(70_000);
            backend.readAt(12_345, dst);
            assertEquals(-1, src.mismatch(dst));
        }
    }
}
