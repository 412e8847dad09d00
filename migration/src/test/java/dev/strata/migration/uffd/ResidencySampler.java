package dev.strata.migration.uffd;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Samples what a mapping holds in memory on its own thread, as often as it can, and keeps the peaks;
 * the reader calls {@link #sample(boolean)} too, between its reads (the thread takes the cheap measure only). Two measures, both the kernel's: the
 * pages allocated to the mapping's memory file (fstat, one atomic reading: {@link #peak()}) and
 * mincore over the range ({@link #peakByMincore()}, a scan that can count a page evicted behind it
 * and one filled ahead of it, so it may overstate). Close stops the thread.
 */
final class ResidencySampler implements AutoCloseable {
    private final UffdMapping mapping;
    private final AtomicLong peak = new AtomicLong();
    private final AtomicLong peakByMincore = new AtomicLong();
    private final AtomicLong samples = new AtomicLong();
    private volatile boolean stop;
    private volatile IOException failure;
    private final Thread thread;

    ResidencySampler(UffdMapping mapping) {
        this.mapping = mapping;
        this.thread = Thread.ofPlatform().name("residency-sampler").daemon().start(this::run);
    }

    private void run() {
        while (!stop) {
            try {
                peak.accumulateAndGet(mapping.residentBytes(), Math::max); // cheap: one fstat
                samples.incrementAndGet();
            } catch (IOException e) {
                failure = e;
                return;
            }
            LockSupport.parkNanos(200_000);
        }
    }

    /** Takes one sample now; with {@code mincore} also the mincore measure (milliseconds over a large range). */
    long sample(boolean mincore) throws IOException {
        long r = mapping.residentBytes();
        peak.accumulateAndGet(r, Math::max);
        if (mincore) {
            peakByMincore.accumulateAndGet(mapping.residentBytesByMincore(), Math::max);
        }
        samples.incrementAndGet();
        return r;
    }

    long peak() {
        if (failure != null) {
            throw new UncheckedIOException(failure);
        }
        return peak.get();
    }

    long peakByMincore() {
        return peakByMincore.get();
    }

    long samples() {
        return samples.get();
    }

    @Override
    public void close() {
        stop = true;
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
