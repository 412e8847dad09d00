package dev.strata.memory.bench;

import dev.strata.memory.ClientOptions;
import dev.strata.memory.MemoryNodeClient;
import dev.strata.memory.RemoteTier;
import dev.strata.storage.PageFile;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * Memory node vs Redis, side by side in one run. Usage:
 * {@code java --enable-native-access=ALL-UNNAMED -cp <classpath> dev.strata.memory.bench.MemoryNodeBench [--seconds 3] [--repeats 3] [--io-threads 1] [--poll-us 50] [--depths 1,16,64] [--no-tiers]}.
 * Starts a memory node JVM and a redis-server on free loopback ports and ends both by PID; prints
 * markdown tables of medians.
 */
public final class MemoryNodeBench {
    private MemoryNodeBench() {}

    public static void main(String[] args) throws Exception {
        double seconds = 3;
        int repeats = 3;
        int ioThreads = 1;
        int keys = 8192;
        int pollMicros = dev.strata.memory.MemoryNodeConfig.defaults().pollMicros();
        int[] depths = {1, 16, 64};
        boolean tiers = true;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--repeats" -> repeats = Integer.parseInt(args[++i]);
                case "--io-threads" -> ioThreads = Integer.parseInt(args[++i]);
                case "--poll-us" -> pollMicros = Integer.parseInt(args[++i]);
                case "--depths" -> depths = java.util.Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--no-tiers" -> tiers = false;
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        System.out.printf(Locale.ROOT, "# memory node vs Redis: %d-second points, median of %d, %d keys x 4 KiB, node io-threads %d, poll %d µs (node and client), %d cores%n%n",
                (long) seconds, repeats, keys, ioThreads, pollMicros, Runtime.getRuntime().availableProcessors());
        ClientOptions opts = ClientOptions.defaults().withRequestTimeout(java.time.Duration.ofSeconds(10)).withPollMicros(pollMicros);
        try (Children.Child node = Children.memoryNode("2G", ioThreads, pollMicros);
                Children.Child redis = Children.redis();
                MemoryNodeClient client = MemoryNodeClient.connect(new InetSocketAddress("127.0.0.1", node.port()), opts);
                MemoryNodeClient blocking = MemoryNodeClient.connect(new InetSocketAddress("127.0.0.1", node.port()),
                        opts.withCallerRunsIo(true))) {
            StrataLoad.preload(client, keys);
            RedisBench.run(redis.port(), "set", 16, keys, 100_000);
            StrataLoad.run(client, true, 16, keys, 3); // JIT warm-up of both JVMs
            StrataLoad.run(client, false, 16, keys, 3);
            System.out.println("| op | in flight | Strata ops/s | Redis ops/s | ratio | Strata p50 µs | Redis p50 µs | Strata p99 µs | Redis p99 µs |");
            System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            for (String op : new String[] {"get", "set"}) {
                boolean get = op.equals("get");
                for (int depth : depths) {
                    // depth 1 twice: the pipelined client, and a caller-runs client (one blocking caller thread)
                    for (boolean callerRuns : depth == 1 ? new boolean[] {false, true} : new boolean[] {false}) {
                        List<Result> s = new ArrayList<>(), r = new ArrayList<>();
                        for (int i = -1; i < repeats; i++) { // -1: warm-up
                            Result x = callerRuns ? StrataLoad.runBlocking(blocking, get, depth, keys, i < 0 ? Math.min(2, seconds) : seconds)
                                    : StrataLoad.run(client, get, depth, keys, i < 0 ? Math.min(2, seconds) : seconds);
                            if (i >= 0) {
                                s.add(x);
                                r.add(RedisBench.runFor(redis.port(), op, depth, keys, seconds));
                            }
                        }
                        Result sm = Result.median(s), rm = Result.median(r);
                        System.out.printf(Locale.ROOT, "| %s | %d%s | %.0f | %.0f | %.2f | %.1f | %.1f | %.1f | %.1f |%n",
                                get ? "get" : "put", depth, callerRuns ? " (caller-runs)" : "", sm.opsPerSec(), rm.opsPerSec(),
                                sm.opsPerSec() / rm.opsPerSec(), sm.p50Micros(), rm.p50Micros(), sm.p99Micros(), rm.p99Micros());
                    }
                }
            }
            System.out.println();
            if (!tiers) {
                return;
            }

            double memcpy = Limits.memcpy(seconds);
            double loopback = Limits.loopbackTcp(seconds);
            List<Double> reads = new ArrayList<>();
            for (int i = 0; i < repeats; i++) {
                reads.add(Limits.remoteRead(client, 256 << 10, 8, seconds));
            }
            reads.sort(Comparator.naturalOrder());
            double remote = reads.get(reads.size() / 2);
            Result get64 = StrataLoad.run(client, true, 64, keys, seconds);
            System.out.println("| transfer | GB/s | share of loopback TCP | share of memcpy |");
            System.out.println("|---|---:|---:|---:|");
            System.out.printf(Locale.ROOT, "| memcpy 64 MiB (native) | %.2f | | 1.00 |%n", memcpy / 1e9);
            System.out.printf(Locale.ROOT, "| loopback TCP, 1 connection | %.2f | 1.00 | %.2f |%n", loopback / 1e9, loopback / memcpy);
            System.out.printf(Locale.ROOT, "| one-sided READ 256 KiB, 8 in flight | %.2f | %.2f | %.2f |%n", remote / 1e9,
                    remote / loopback, remote / memcpy);
            double pageBytes = get64.opsPerSec() * 4096;
            System.out.printf(Locale.ROOT, "| page get 4 KiB, 64 in flight | %.2f | %.2f | %.2f |%n", pageBytes / 1e9,
                    pageBytes / loopback, pageBytes / memcpy);
            System.out.println();

            int pages = 16384;
            Path dir = Files.createTempDirectory("strata-tier-bench");
            try (PageFile file = PageFile.open(dir);
                    MemoryNodeClient callerRuns = MemoryNodeClient.connect(new InetSocketAddress("127.0.0.1", node.port()),
                            opts.withCallerRunsIo(true))) {
                TierBench.preloadFile(file, pages);
                TierBench.preloadNode(client, 3, pages);
                TierBench.FileSource local = new TierBench.FileSource(file);
                System.out.println("| tier under a pool of 1/8 of 64 MiB | threads | random page reads/s |");
                System.out.println("|---|---:|---:|");
                for (int threads : new int[] {1, 4}) {
                    List<Double> l = new ArrayList<>(), m = new ArrayList<>(), d = new ArrayList<>();
                    for (int i = 0; i < repeats; i++) {
                        l.add(TierBench.randomReads(local, pages, threads, seconds));
                        RemoteTier tier = TierBench.remote(local, client, 3);
                        m.add(TierBench.randomReads(tier, pages, threads, seconds));
                        RemoteTier direct = TierBench.remote(local, callerRuns, 3);
                        d.add(TierBench.randomReads(direct, pages, threads, seconds));
                        if (tier.stats().belowReads() + direct.stats().belowReads() > 0) {
                            System.err.println("remote tier fell through to the file: " + tier.stats() + " " + direct.stats());
                        }
                    }
                    l.sort(Comparator.naturalOrder());
                    m.sort(Comparator.naturalOrder());
                    d.sort(Comparator.naturalOrder());
                    System.out.printf(Locale.ROOT, "| local page file | %d | %.0f |%n", threads, l.get(l.size() / 2));
                    System.out.printf(Locale.ROOT, "| memory node (TCP loopback, pipelined I/O thread) over the file | %d | %.0f |%n", threads, m.get(m.size() / 2));
                    System.out.printf(Locale.ROOT, "| memory node (TCP loopback, caller-runs I/O) over the file | %d | %.0f |%n", threads, d.get(d.size() / 2));
                }
            } finally {
                try (var s = Files.walk(dir)) {
                    for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                        Files.deleteIfExists(p);
                    }
                }
            }
        }
    }
}
