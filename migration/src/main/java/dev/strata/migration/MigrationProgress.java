package dev.strata.migration;

import dev.strata.core.ByteSize;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Live counters of one side of a migration (cheap to update from the transfer thread, readable
 * from any thread): bytes and chunks moved, rounds, the stale (dirty) chunk count and dirty-rate
 * estimate of the last round, chunks present (leecher) and the phase.
 */
public final class MigrationProgress {
    /** Phases, in order. */
    public enum Phase { CONNECTING, PRE_COPY, FINALIZING, POST_COPY, DONE, FAILED }

    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong chunks = new AtomicLong();
    private final AtomicLong rounds = new AtomicLong();
    private final AtomicLong stale = new AtomicLong();
    private final AtomicLong dirtyRateBits = new AtomicLong();
    private final AtomicLong present = new AtomicLong();
    private final AtomicLong reconnects = new AtomicLong();
    private volatile long totalChunks;
    private volatile long size;
    private final AtomicReference<Phase> phase = new AtomicReference<>(Phase.CONNECTING);
    private final long startNanos = System.nanoTime();

    public long bytes() {
        return bytes.get();
    }

    public long chunks() {
        return chunks.get();
    }

    public long rounds() {
        return rounds.get();
    }

    /** Stale chunks at the end of the last round (chunks the leecher holds an old copy of). */
    public long staleChunks() {
        return stale.get();
    }

    /** Estimated chunks dirtied per second during the last round. */
    public double dirtyRate() {
        return Double.longBitsToDouble(dirtyRateBits.get());
    }

    public long presentChunks() {
        return present.get();
    }

    public long totalChunks() {
        return totalChunks;
    }

    public long reconnects() {
        return reconnects.get();
    }

    public Phase phase() {
        return phase.get();
    }

    // ---- updates (package dev.strata.migration only) ----

    void sized(long regionSize, long chunkCount) {
        size = regionSize;
        totalChunks = chunkCount;
    }

    void moved(long n) {
        bytes.addAndGet(n);
        chunks.incrementAndGet();
    }

    void round(long staleChunks, double rate) {
        rounds.incrementAndGet();
        stale.set(staleChunks);
        dirtyRateBits.set(Double.doubleToRawLongBits(rate));
    }

    void present(long n) {
        present.set(n);
    }

    void reconnected() {
        reconnects.incrementAndGet();
    }

    void phase(Phase p) {
        phase.set(p);
    }

    /** One terminal line: {@code [#####-----]  48% 512 MiB/1.0 GiB  PRE_COPY round 1  dirty 120  410 MB/s}. */
    public String line() {
        long total = totalChunks;
        long have = present.get();
        double frac = total == 0 ? 0 : Math.min(1.0, (double) have / total);
        int width = 24;
        int filled = (int) Math.round(frac * width);
        double secs = Math.max(1e-9, (System.nanoTime() - startNanos) / 1e9);
        return String.format("[%s%s] %3d%% %s moved of %s  %s round %d  dirty %d (%.0f/s)  %.0f MB/s",
                "#".repeat(filled), "-".repeat(width - filled), Math.round(frac * 100), ByteSize.format(bytes.get()),
                ByteSize.format(size), phase.get(), rounds.get(), stale.get(), dirtyRate(), bytes.get() / secs / 1e6);
    }
}
