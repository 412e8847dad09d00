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
    void residencyStaysUnderTheCapWhileTheWholeObjectIsRead() throws Exception {
        long cap = 16L << 20;
        try (UffdMapping m = UffdMapping.open("file:" + file, SIZE, 2, 1 << 20, cap)) {
            MemorySegment seg = m.segment();
            byte[] back = new byte[(int) SIZE];
            long maxResident = 0;
            for (long off = 0; off < SIZE; off += 4 << 20) {
                MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, off, back, (int) off, 4 << 20);
                maxResident = Math.max(maxResident, m.residentBytes());
            }
            System.out.printf("uffd capped read: max resident %d MiB of cap %d MiB%n", maxResident >> 20, cap >> 20);
            assertEquals(crc(data, 0, data.length), crc(back, 0, back.length));
            assertTrue(maxResident <= cap + (4L << 20), "resident " + maxResident);
            // evicted data comes back intact
            byte[] first = new byte[1 << 20];
            MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, 0, first, 0, first.length);
            assertEquals(crc(data, 0, first.length), crc(first, 0, first.length));
        }
    }
}
