package dev.strata.nbd.bench;

import dev.strata.nbd.Backend;
import dev.strata.nbd.Export;
import dev.strata.nbd.NbdServer;
import dev.strata.nbd.backend.MemoryBackend;
import dev.strata.nbd.backend.NbdRemoteBackend;
import dev.strata.nbd.mount.ManagedMount;
import dev.strata.nbd.mount.MountConfig;
import dev.strata.testkit.DelayProxy;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.util.SplittableRandom;

/**
 * Managed vs direct mount throughput over a link with added RTT (testkit's DelayProxy in front of a
 * Strata NBD server holding the "remote" memory). Measured at the mount's Backend API (what the NBD
 * export of the mount serves), so the figures exclude the NBD/FUSE frontend.
 *
 * <pre>
 *   reader/writer ─► ManagedMount ─► NbdRemoteBackend (N conns) ─► DelayProxy(rtt) ─► NbdServer(memory)
 * </pre>
 * Args: sizeMiB repeats rtt-ms... (default 512 3 -1 0 5 20 40); rtt -1 = no proxy at all (baseline).
 */
public final class MountBench {
    public static void main(String[] args) throws Exception {
        long size = (args.length > 0 ? Long.parseLong(args[0]) : 512) << 20;
        int repeats = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        int[] rtts = args.length > 2 ? Arrays.stream(args, 2, args.length).mapToInt(Integer::parseInt).toArray()
                : new int[] {-1, 0, 5, 20, 40};
        int conns = Integer.getInteger("conns", 32);
        MountConfig cfg = new MountConfig(1 << 20, Integer.getInteger("pullWorkers", 32),
                Integer.getInteger("pushWorkers", 32), Integer.getInteger("batch", 4), Integer.getInteger("batch", 4),
                Duration.ofMillis(50), 16, null);
        try (MemoryBackend store = new MemoryBackend(size);
             NbdServer server = NbdServer.start(0, new Export("remote", "remote memory", store, false))) {
            fillRandom(store);
            System.out.printf("size %d MiB, chunk %d KiB, pull/push workers %d/%d, remote connections %d%n",
                    size >> 20, cfg.chunkSize() >> 10, cfg.pullWorkers(), cfg.pushWorkers(), conns);
            System.out.println("added = mean delay the proxy added per byte and direction in that phase (ms);"
                    + " late = mean lateness of its timer in the read/write/direct phases (ms);"
                    + " read_cpu = CPU-s of this process (mount, proxy and server) per GiB of managed read");
            System.out.println("rtt_ms\trepeat\tmanaged_read_GBps\tadded\tmanaged_write_flush_GBps\tadded"
                    + "\tdirect_read_MBps\tadded\tlate\tread_cpu");
            for (int rtt : rtts) {
                List<Double> reads = new ArrayList<>();
                List<Double> writes = new ArrayList<>();
                List<Double> direct = new ArrayList<>();
                List<Double> readAdded = new ArrayList<>();
                List<Double> writeAdded = new ArrayList<>();
                List<Double> directAdded = new ArrayList<>();
                List<Double> readCpu = new ArrayList<>();
                for (int r = 0; r < repeats; r++) {
                    double[] late = new double[3];
                    double[] cpu = new double[1];
                    reads.add(phase(server.port(), rtt, conns, readAdded, late, 0, remote -> {
                        Map<String, Long> cpu0 = cpuByRole();
                        long p0 = processCpuNanos();
                        long w0 = System.nanoTime();
                        double v = managedRead(remote, cfg, size);
                        cpu[0] = (processCpuNanos() - p0) / 1e9 / (size / (double) (1L << 30));
                        if (PROFILE) {
                            printCpu("managed read", cpu0, cpuByRole(), System.nanoTime() - w0);
                        }
                        return v;
                    }));
                    readCpu.add(cpu[0]);
                    writes.add(phase(server.port(), rtt, conns, writeAdded, late, 1,
                            remote -> managedWrite(remote, cfg, size)));
                    direct.add(phase(server.port(), rtt, conns, directAdded, late, 2,
                            remote -> directRead(remote, Math.min(size, rtt <= 0 ? 256L << 20 : 16L << 20))));
                    System.out.printf("%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.1f\t%.2f\t%.2f/%.2f/%.2f\t%.2f%n", rtt, r + 1,
                            reads.get(r), readAdded.get(r), writes.get(r), writeAdded.get(r), direct.get(r) * 1000,
                            directAdded.get(r), late[0], late[1], late[2], readCpu.get(r));
                }
                System.out.printf("%d\tmedian\t%.2f\t%.2f\t%.2f\t%.2f\t%.1f\t%.2f\t\t%.2f%n", rtt, median(reads),
                        median(readAdded), median(writes), median(writeAdded), median(direct) * 1000,
                        median(directAdded), median(readCpu));
            }
        }
    }

    interface Phase {
        double run(Backend remote) throws Exception;
    }

    /** One measured phase over a fresh proxy (none for rtt < 0) and fresh remote connections. */
    static double phase(int serverPort, int rtt, int conns, List<Double> added, double[] late, int slot, Phase p)
            throws Exception {
        try (DelayProxy proxy = rtt < 0 ? null
                : DelayProxy.start(new InetSocketAddress("127.0.0.1", serverPort), Duration.ofMillis(rtt))) {
            int port = proxy == null ? serverPort : proxy.port();
            double v;
            try (NbdRemoteBackend remote = new NbdRemoteBackend("127.0.0.1", port, "remote", conns)) {
                v = p.run(remote);
            }
            added.add(proxy == null ? 0 : proxy.meanAddedDelayNanosPerByte() / 1e6);
            late[slot] = proxy == null ? 0 : proxy.timerLatenessNanos()[0] / 1e6;
            return v;
        }
    }

    static final boolean PROFILE = Boolean.getBoolean("profile");

    static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    /** CPU time (ns) of live threads, summed by role (thread name without its digits). */
    static Map<String, Long> cpuByRole() {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        Map<String, Long> m = new TreeMap<>();
        for (ThreadInfo t : mx.getThreadInfo(mx.getAllThreadIds())) {
            if (t != null) {
                long c = mx.getThreadCpuTime(t.getThreadId());
                m.merge(t.getThreadName().replaceAll("[0-9]+", "#"), Math.max(c, 0), Long::sum);
            }
        }
        return m;
    }

    static void printCpu(String phase, Map<String, Long> before, Map<String, Long> after, long wallNanos) {
        StringBuilder sb = new StringBuilder("  cpu during " + phase + " (" + wallNanos / 1_000_000 + " ms wall):");
        after.entrySet().stream()
                .map(e -> Map.entry(e.getKey(), e.getValue() - before.getOrDefault(e.getKey(), 0L)))
                .filter(e -> e.getValue() > wallNanos / 50)
                .sorted((a, b) -> Long.compare(b.getValue(), a.getValue()))
                .forEach(e -> sb.append(String.format(" %s=%.0f%%", e.getKey(), 100.0 * e.getValue() / wallNanos)));
        System.out.println(sb);
    }

    static void fillRandom(Backend b) throws Exception {
        SplittableRandom rnd = new SplittableRandom(1);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(1 << 20);
            for (long off = 0; off < b.size(); off += buf.byteSize()) {
                for (long i = 0; i < buf.byteSize(); i += 8) {
                    buf.set(ValueLayout.JAVA_LONG_UNALIGNED, i, rnd.nextLong());
                }
                b.writeAt(off, buf);
            }
        }
    }

    /** Sequential 1 MiB reads of the whole device through a fresh managed mount (pull running). */
    static double managedRead(Backend remote, MountConfig cfg, long size) throws Exception {
        try (ManagedMount m = new ManagedMount(remote, cfg); Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(1 << 20);
            long t0 = System.nanoTime();
            for (long off = 0; off < size; off += buf.byteSize()) {
                m.readAt(off, buf);
            }
            return size / ((System.nanoTime() - t0) / 1e9) / 1e9;
        }
    }

    /** Sequential 1 MiB writes of the whole device, then flush: time until the data is on the remote. */
    static double managedWrite(Backend remote, MountConfig cfg, long size) throws Exception {
        MountConfig noPull = new MountConfig(cfg.chunkSize(), 0, cfg.pushWorkers(), cfg.pullBatch(), cfg.pushBatch(),
                cfg.pushInterval(), 0, null);
        try (ManagedMount m = new ManagedMount(remote, noPull); Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(1 << 20);
            buf.fill((byte) 0x5a);
            long t0 = System.nanoTime();
            for (long off = 0; off < size; off += buf.byteSize()) {
                m.writeAt(off, buf);
            }
            m.sync();
            return size / ((System.nanoTime() - t0) / 1e9) / 1e9;
        }
    }

    /** Direct mount: every 1 MiB read is one synchronous remote request (no cache, no read-ahead). */
    static double directRead(Backend remote, long bytes) throws Exception {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(1 << 20);
            long t0 = System.nanoTime();
            for (long off = 0; off < bytes; off += buf.byteSize()) {
                remote.readAt(off, buf);
            }
            return bytes / ((System.nanoTime() - t0) / 1e9) / 1e9;
        }
    }

    static double median(List<Double> xs) {
        double[] a = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }
}
