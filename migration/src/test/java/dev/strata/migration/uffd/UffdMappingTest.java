package dev.strata.migration.uffd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A file mapped through userfaultfd with the fault handler in a helper process. */
@Timeout(180)
class UffdMappingTest {
    private static final long SIZE = 64L << 20;
    private Path file;
    private byte[] data;

    @BeforeEach
    void makeFile() throws Exception {
        file = Files.createTempFile("uffd-src", ".img");
        data = new byte[(int) SIZE];
        new SplittableRandom(3).nextBytes(data);
        Files.write(file, data);
    }

    @AfterEach
    void removeFile() throws Exception {
        Files.deleteIfExists(file);
    }

    private static long crc(byte[] b, int off, int len) {
        CRC32C c = new CRC32C();
        c.update(b, off, len);
        return c.getValue();
    }

    @Test
    void sequentialReadThroughTheMappingEqualsTheFileAndTheHelperIsAnotherProcess() throws Exception {
        long helperPid;
        try (UffdMapping m = UffdMapping.open("file:" + file, SIZE, 2, 4 << 20)) {
            helperPid = m.helperPid();
            assertTrue(helperPid != ProcessHandle.current().pid());
            MemorySegment seg = m.segment();
            byte[] back = new byte[(int) SIZE];
            long t0 = System.nanoTime();
            MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, 0, back, 0, back.length);
            double secs = (System.nanoTime() - t0) / 1e9;
            System.out.printf("uffd sequential read of %d MiB: %.0f MB/s%n", SIZE >> 20, SIZE / secs / 1e6);
            assertEquals(crc(data, 0, data.length), crc(back, 0, back.length));
            // evicted pages fault in again with the same bytes
            m.evict(SIZE / 2, 1 << 20);
            byte[] again = new byte[1 << 20];
            MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, SIZE / 2, again, 0, again.length);
            assertEquals(crc(data, (int) (SIZE / 2), again.length), crc(again, 0, again.length));
        }
        assertFalse(ProcessHandle.of(helperPid).map(ProcessHandle::isAlive).orElse(false), "helper still running");
    }

    @Test
    void randomPageFaultsFromSeveralThreadsSurviveGarbageCollections() throws Exception {
        try (UffdMapping m = UffdMapping.open("file:" + file, SIZE, 2, 1 << 20);
             RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
            MemorySegment seg = m.segment();
            int pages = (int) (SIZE / 4096);
            Thread[] readers = new Thread[3];
            java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
            java.util.concurrent.atomic.AtomicLong faults = new java.util.concurrent.atomic.AtomicLong();
            for (int t = 0; t < readers.length; t++) {
                int id = t;
                readers[t] = Thread.ofPlatform().start(() -> {
                    SplittableRandom rnd = new SplittableRandom(id);
                    try {
                        for (int i = 0; i < 2000; i++) {
                            int p = rnd.nextInt(pages);
                            long v = seg.get(ValueLayout.JAVA_LONG_UNALIGNED, (long) p * 4096 + 8);
                            long expected = MemorySegment.ofArray(data).get(ValueLayout.JAVA_LONG_UNALIGNED, (long) p * 4096 + 8);
                            if (v != expected) {
                                throw new AssertionError("page " + p);
                            }
                            faults.incrementAndGet();
                        }
                    } catch (Throwable e) {
                        failure.set(e);
                    }
                });
            }
            long t0 = System.nanoTime();
            for (int i = 0; i < 5; i++) {
                System.gc(); // a handler in this JVM would deadlock here (DESIGN §8)
            }
            for (Thread r : readers) {
                r.join();
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            System.out.printf("uffd random 4 KiB touches: %.0f/s (3 threads)%n", faults.get() / secs);
            if (failure.get() != null) {
                throw new AssertionError(failure.get());
            }
            assertTrue(raf.length() == SIZE);
        }
    }

    @Test
    void residencyNeverExceedsTheCapWhileTheWholeObjectIsRead() throws Exception {
        long cap = 16L << 20;
        try (UffdMapping m = UffdMapping.open("file:" + file, SIZE, 2, 1 << 20, cap);
             ResidencySampler sampler = new ResidencySampler(m)) {
            MemorySegment seg = m.segment();
            byte[] back = new byte[(int) SIZE];
            for (long off = 0; off < SIZE; off += 1 << 20) {
                MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, off, back, (int) off, 1 << 20);
                sampler.sample(true);
            }
            assertEquals(crc(data, 0, data.length), crc(back, 0, back.length));
            // evicted data comes back intact
            byte[] first = new byte[1 << 20];
            MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, 0, first, 0, first.length);
            assertEquals(crc(data, 0, first.length), crc(first, 0, first.length));
            long peak = sampler.peak();
            System.out.printf("uffd capped read: peak resident %d KiB of cap %d KiB (%d samples; mincore scans peaked at %d KiB)%n",
                    peak >> 10, cap >> 10, sampler.samples(), sampler.peakByMincore() >> 10);
            assertTrue(peak <= cap, "peak resident " + peak + " > cap " + cap);
            assertTrue(peak >= cap / 2, "the cap was hardly used: " + peak);
        }
    }

    @Test
    void overlappingSequentialAndRandomReadersAllSeeTheFile() throws Exception {
        // several readers fault the same windows at once: fills and readahead race (EEXIST, in-flight chunks)
        try (UffdMapping m = UffdMapping.open("file:" + file, SIZE, 3, 1 << 20, 24L << 20)) {
            MemorySegment seg = m.segment();
            MemorySegment expected = MemorySegment.ofArray(data);
            java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
            Thread[] readers = new Thread[4];
            for (int t = 0; t < readers.length; t++) {
                int id = t;
                readers[t] = Thread.ofPlatform().start(() -> {
                    try {
                        SplittableRandom rnd = new SplittableRandom(id);
                        for (int round = 0; round < 2; round++) {
                            for (long off = 0; off < SIZE; off += 4096) {
                                long at = id % 2 == 0 ? off : rnd.nextLong(SIZE / 8) * 8;
                                long v = seg.get(ValueLayout.JAVA_LONG_UNALIGNED, at);
                                if (v != expected.get(ValueLayout.JAVA_LONG_UNALIGNED, at)) {
                                    throw new AssertionError("reader " + id + " at " + at);
                                }
                            }
                            if (id == 0) {
                                m.evict(0, SIZE / 2); // evictions requested while others read
                            }
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                });
            }
            for (Thread r : readers) {
                r.join();
            }
            if (failure.get() != null) {
                throw new AssertionError(failure.get());
            }
        }
    }
}
