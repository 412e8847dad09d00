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
            System.out.println("rtt_ms\tmanaged_read_GBps\tmanaged_write_flush_GBps\tdirect_read_MBps\tproxy_added_ms_per_dir");
            for (int rtt : rtts) {
                List<Double> reads = new ArrayList<>();
                List<Double> writes = new ArrayList<>();
                List<Double> direct = new ArrayList<>();
                double added = 0;
                for (int r = 0; r < repeats; r++) {
                    try (DelayProxy proxy = DelayProxy.start(new InetSocketAddress("127.0.0.1", server.port()),
                            Duration.ofMillis(Math.max(rtt, 0)))) {
                        int port = rtt < 0 ? server.port() : proxy.port();
                        try (NbdRemoteBackend remote = new NbdRemoteBackend("127.0.0.1", port, "remote", conns)) {
                            reads.add(managedRead(remote, cfg, size));
                            writes.add(managedWrite(remote, cfg, size));
                            direct.add(directRead(remote, Math.min(size, rtt <= 0 ? 256L << 20 : 16L << 20)));
                        }
                        added = proxy.addedDelayNanos()[0] / 1e6;
                    }
                }
                System.out.printf("%d\t%.2f\t%.2f\t%.1f\t%.2f%n", rtt, median(reads), median(writes),
                        median(direct) * 1000, added);
            }
        }
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
