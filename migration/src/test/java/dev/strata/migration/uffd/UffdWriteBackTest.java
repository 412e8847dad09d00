package dev.strata.migration.uffd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Write-protect mode: writes to the mapping are caught and pushed back to a writable backend on flush. */
@Timeout(120)
class UffdWriteBackTest {

    @Test
    void writesThroughTheMappingRoundTripToTheBackend() throws Exception {
        long size = 8L << 20;
        Path file = Files.createTempFile("uffd-wp", ".img");
        try {
            byte[] expected = new byte[(int) size];
            new SplittableRandom(5).nextBytes(expected);
            Files.write(file, expected);
            try (UffdMapping m = UffdMapping.open("file:" + file, size, 2, 1 << 20, 0, true)) {
                MemorySegment seg = m.segment();
                // read a page first (missing fault, arrives write-protected), then write it
                seg.get(ValueLayout.JAVA_BYTE, 4096);
                long[] offsets = {4096 + 10, 3L << 20, size - 8}; // read-then-written, untouched-then-written, last page
                long v = 0x1122334455667788L;
                for (long off : offsets) {
                    seg.set(ValueLayout.JAVA_LONG_UNALIGNED, off, v);
                    MemorySegment.ofArray(expected).set(ValueLayout.JAVA_LONG_UNALIGNED, off, v);
                    v++;
                }
                m.flush();
                assertArrayEquals(expected, Files.readAllBytes(file), "first flush");
                // the same page written again after the flush is caught again
                seg.set(ValueLayout.JAVA_LONG_UNALIGNED, 4096 + 10, 42L);
                MemorySegment.ofArray(expected).set(ValueLayout.JAVA_LONG_UNALIGNED, 4096 + 10, 42L);
                m.flush();
                assertArrayEquals(expected, Files.readAllBytes(file), "second flush");
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
