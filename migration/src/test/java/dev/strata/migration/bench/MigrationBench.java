package dev.strata.migration.bench;

import dev.strata.migration.FencedException;
import dev.strata.migration.Leecher;
import dev.strata.migration.LeecherConfig;
import dev.strata.migration.MigrationReport;
import dev.strata.migration.Seeder;
import dev.strata.migration.SeederConfig;
import dev.strata.nbd.Backend;
import dev.strata.nbd.backend.MemoryBackend;
import dev.strata.testkit.DelayProxy;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Migrates a memory region (default 1 GiB, 4 KiB chunks) while a writer dirties a fixed fraction
 * of it per second (default 5 %/s: random 4 KiB page writes at 5 % of the region's pages per
 * second), on loopback and through testkit's {@link DelayProxy} at each given RTT. Reports per run
 * and as medians: downtime (seeder suspend → leecher serving, both {@code System.nanoTime()} in
 * this JVM), total time (connect → serving), bytes sent, rounds, final-set chunks, and the delay
 * the proxy measured it added.
 *
 * <p>Usage: {@code MigrationBench [sizeMiB=1024] [repeats=3] [dirtyPercentPerSecond=5] [chunkKiB=4] [rttMs...=0 20]}
 */
public final class MigrationBench {
    private MigrationBench() {}

    record Run(double downtimeMs, double totalS, long bytes, int rounds, long finalChunks, double proxyMeanMs,
               double proxyMaxMs, double rttMs, long writes, String report) {}

    public static void main(String[] args) throws Exception {
        long size = (args.length > 0 ? Long.parseLong(args[0]) : 1024) << 20;
        int repeats = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        double dirtyPct = args.length > 2 ? Double.parseDouble(args[2]) : 5;
        int chunk = (args.length > 3 ? Integer.parseInt(args[3]) : 4) * 1024;
        List<Integer> rtts = new ArrayList<>();
        for (int i = 4; i < args.length; i++) {
            rtts.add(Integer.parseInt(args[i]));
        }
        if (rtts.isEmpty()) {
            rtts = List.of(0, 20);
        }
        System.out.printf("migration bench: region %d MiB, chunk %d KiB, writer %.1f%%/s of the region (4 KiB random writes), %d repeats%n",
                size >> 20, chunk / 1024, dirtyPct, repeats);
        try (MemoryBackend source = new MemoryBackend(size)) {
            fill(source);
            for (int rtt : rtts) {
                List<Run> runs = new ArrayList<>();
                for (int r = 0; r < repeats; r++) {
                    Run run = once(source, chunk, dirtyPct, rtt);
                    runs.add(run);
                    System.out.printf("  rtt %2d ms run %d: downtime %.2f ms, total %.2f s, sent %d MiB, rounds %d, final set %d chunks,"
                                    + " proxy added mean %.2f / max %.2f ms one-way (incl. queueing), min RTT seen %.2f ms, writer %d writes%n    %s%n",
                            rtt, r + 1, run.downtimeMs, run.totalS, run.bytes >> 20, run.rounds, run.finalChunks,
                            run.proxyMeanMs, run.proxyMaxMs, run.rttMs, run.writes, run.report);
                }
                System.out.printf("MEDIAN rtt %d ms: downtime %.2f ms, total %.2f s, sent %d MiB, rounds %.0f, final set %.0f chunks%n",
                        rtt, median(runs, Run::downtimeMs), median(runs, Run::totalS),
                        (long) median(runs, x -> x.bytes) >> 20, median(runs, x -> x.rounds), median(runs, x -> x.finalChunks));
            }
        }
    }

    private static double median(List<Run> runs, java.util.function.ToDoubleFunction<Run> f) {
        double[] v = runs.stream().mapToDouble(f).toArray();
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private static void fill(Backend b) throws IOException {
        SplittableRandom rnd = new SplittableRandom(7);
        byte[] buf = new byte[1 << 20];
        for (long off = 0; off < b.size(); off += buf.length) {
            rnd.nextBytes(buf);
            b.writeAt(off, MemorySegment.ofArray(buf));
        }
    }

    private static Run once(MemoryBackend source, int chunk, double dirtyPct, int rttMs) throws Exception {
        long size = source.size();
        SeederConfig sc = SeederConfig.defaults().withChunkSize(chunk);
        Duration maxDowntime = Duration.ofMillis(Math.max(50, 5L * rttMs));
        try (Seeder seeder = Seeder.start(source, sc)) {
            InetSocketAddress direct = new InetSocketAddress(InetAddress.getLoopbackAddress(), seeder.port());
            DelayProxy proxy = rttMs == 0 ? null : DelayProxy.start(direct, Duration.ofMillis(rttMs), 64 << 20);
            try {
                InetSocketAddress addr = proxy == null ? direct
                        : new InetSocketAddress(InetAddress.getLoopbackAddress(), proxy.port());
                long writesPerSec = (long) (size / 4096 * dirtyPct / 100);
                AtomicLong writes = new AtomicLong();
                Thread writer = Thread.ofPlatform().name("bench-writer").start(() -> write(seeder.backend(), writesPerSec, writes));
                try (Leecher leecher = Leecher.open(addr, LeecherConfig.defaults().withMaxDowntime(maxDowntime))) {
                    MigrationReport report = leecher.migrate();
                    double downtime = (leecher.servingAtNanos() - seeder.suspendedAtNanos()) / 1e6;
                    writer.join();
                    if (!leecher.awaitComplete(Duration.ofMinutes(5))) {
                        throw new IllegalStateException("post-copy did not finish");
                    }
                    long[] added = proxy == null ? new long[3] : proxy.addedDelayNanos();
                    // the source becomes writable again for the next run: a fresh seeder over it
                    return new Run(downtime, report.total().toNanos() / 1e9, report.bytesMoved(), report.rounds(),
                            report.finalChunks(), added[0] / 1e6, added[1] / 1e6, leecher.rtt().toNanos() / 1e6,
                            writes.get(), report.toString());
                }
            } finally {
                if (proxy != null) {
                    proxy.close();
                }
            }
        }
    }

    /** Random 4 KiB page writes at a paced rate until the seeder is fenced. */
    private static void write(Backend target, long perSecond, AtomicLong count) {
        SplittableRandom rnd = new SplittableRandom();
        MemorySegment page = MemorySegment.ofArray(new long[512]);
        long pages = target.size() / 4096;
        long interval = 1_000_000_000L / Math.max(1, perSecond);
        long next = System.nanoTime();
        long v = 0;
        while (true) {
            page.setAtIndex(ValueLayout.JAVA_LONG, 0, ++v);
            try {
                target.writeAt(rnd.nextLong(pages) * 4096, page);
            } catch (FencedException e) {
                return;
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
            count.incrementAndGet();
            next += interval;
            long now = System.nanoTime();
            if (next - now > 200_000) {
                LockSupport.parkNanos(next - now);
            } else if (now - next > 100_000_000L) {
                next = now;
            }
        }
    }
}
