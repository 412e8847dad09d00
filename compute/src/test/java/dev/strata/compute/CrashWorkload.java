package dev.strata.compute;

import java.time.Duration;
import java.util.Random;

/**
 * The deterministic workload of {@link CrashRecoveryTest}: batch {@code i} writes bytes that depend
 * only on {@code (seed, i)} and stores {@code i} in the counter page, so the state after batches
 * {@code 1..c} can be recomputed by the verifier.
 */
final class CrashWorkload {
    static final int SMALL_PAGES = 1500;
    static final int LARGE_PAGES = 20;
    static final int LARGE_BYTES = 65536;

    private CrashWorkload() {}

    static PageStoreConfig config() {
        return PageStoreConfig.defaults().withPool(4L << 20).withCapacity(64L << 20)
                .withCheckpointInterval(Duration.ofMillis(100)).withCheckpointLogBytes(1L << 20)
                .withSegmentBytes(1L << 20);
    }

    static int pages() {
        return 1 + SMALL_PAGES + LARGE_PAGES;
    }

    /** Page ids in allocation order: page 0 is the counter page, then small pages, then large ones. */
    static long pageNo(int index) {
        return index <= SMALL_PAGES ? index : SMALL_PAGES + 1 + (long) (index - SMALL_PAGES - 1) * (LARGE_BYTES / 4096);
    }

    static int pageBytes(int index) {
        return index <= SMALL_PAGES ? 4096 : LARGE_BYTES;
    }

    /**
     * One change of batch {@code i}: {@code bytes} written at {@code offset}, or, when {@code from >= 0}, the
     * {@code bytes.length} bytes at {@code from} moved to {@code offset} ({@link WriteBatch#move}; {@code bytes}
     * then only gives the length).
     */
    record Delta(int page, int offset, byte[] bytes, int from) {
        /** Applies the change to a model of the page. */
        void applyTo(byte[] page) {
            if (from >= 0) {
                System.arraycopy(page, from, page, offset, bytes.length); // overlapping: as memmove
            } else {
                System.arraycopy(bytes, 0, page, offset, bytes.length);
            }
        }

        /** Applies the change through a batch, under the page's exclusive latch. */
        void applyTo(WriteBatch b, PageHandle h) {
            if (from >= 0) {
                b.move(h, from, offset, bytes.length);
            } else {
                b.write(h, offset, bytes);
            }
        }
    }

    static Delta[] batch(long seed, long i) {
        Random r = new Random(seed * 1_000_003L + i);
        Delta[] out = new Delta[1 + r.nextInt(4)];
        for (int k = 0; k < out.length; k++) {
            int page = 1 + r.nextInt(pages() - 1);
            int len = 1 + r.nextInt(300);
            int offset = r.nextInt(pageBytes(page) - len);
            byte[] b = new byte[len];
            r.nextBytes(b);
            // every third change moves bytes within the page (often overlapping), as a compacting page does
            int from = r.nextInt(3) == 0 ? Math.max(0, Math.min(pageBytes(page) - len, offset + r.nextInt(601) - 300)) : -1;
            out[k] = new Delta(page, offset, b, from);
        }
        return out;
    }
}
