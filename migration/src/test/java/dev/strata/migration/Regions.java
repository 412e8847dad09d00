package dev.strata.migration;

import dev.strata.nbd.Backend;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.function.BooleanSupplier;
import java.util.zip.CRC32C;

/** Test helpers: fill a region with random bytes, checksum it, wait for a condition. */
final class Regions {
    private Regions() {}

    static void fillRandom(Backend b, long seed) throws IOException {
        SplittableRandom rnd = new SplittableRandom(seed);
        byte[] buf = new byte[1 << 20];
        for (long off = 0; off < b.size(); off += buf.length) {
            rnd.nextBytes(buf);
            int n = (int) Math.min(buf.length, b.size() - off);
            b.writeAt(off, MemorySegment.ofArray(buf).asSlice(0, n));
        }
    }

    static long crc(Backend b) throws IOException {
        CRC32C crc = new CRC32C();
        byte[] buf = new byte[1 << 20];
        for (long off = 0; off < b.size(); off += buf.length) {
            int n = (int) Math.min(buf.length, b.size() - off);
            b.readAt(off, MemorySegment.ofArray(buf).asSlice(0, n));
            crc.update(buf, 0, n);
        }
        return crc.getValue();
    }

    /** Waits (parking briefly between checks) until {@code cond} holds; fails after {@code timeout}. */
    static void await(BooleanSupplier cond, Duration timeout, String what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(2_000_000L);
        }
    }
}
