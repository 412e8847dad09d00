package dev.strata.index.bench;

import dev.strata.index.IndexBatch;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import org.lmdbjava.Txn;
import org.rocksdb.WriteBatch;

/**
 * The out-of-memory phase: {@code keys} random 16-byte keys x 100-byte values inserted into one
 * engine, with its cache (Strata's buffer pool, RocksDB's block cache) at {@code memoryMiB}; run
 * each engine in its own JVM inside the same cgroup memory limit so that the OS page cache counts
 * against every engine. Prints {@code RESULT <engine> <ops/s>}. Durable at the end (one sync).
 *
 * <pre>
 * java ... dev.strata.index.bench.OomBench engine=strata keys=4000000 memoryMiB=64 dir=/tmp/oom
 * </pre>
 */
public final class OomBench {
    private OomBench() {}

    public static void main(String[] args) throws Exception {
        java.util.Map<String, String> a = new java.util.HashMap<>();
        for (String s : args) {
            a.put(s.substring(0, s.indexOf('=')), s.substring(s.indexOf('=') + 1));
        }
        String engine = a.get("engine");
        long n = Long.parseLong(a.getOrDefault("keys", "4000000"));
        long memory = Long.parseLong(a.getOrDefault("memoryMiB", "64")) << 20;
        // an engine that collapses (LMDB out of memory) is stopped after this long; its rate so far is a bound
        long maxNanos = Long.parseLong(a.getOrDefault("maxSeconds", "0")) * 1_000_000_000L;
        Path dir = Path.of(a.getOrDefault("dir", "/tmp/strata-oom")).resolve(engine);
        IndexBench.deleteTree(dir);
        byte[] value = new byte[IndexBench.VALUE];
        new SplittableRandom(3).nextBytes(value);
        SplittableRandom rnd = new SplittableRandom(42);
        long t0 = System.nanoTime();
        long next = 1_000_000;
        try (IndexBench.Engine e = IndexBench.open(engine, dir, memory)) {
            for (long i = 0; i < n; i += IndexBench.BATCH) {
                int m = (int) Math.min(IndexBench.BATCH, n - i);
                byte[][] keys = new byte[m][];
                for (int j = 0; j < m; j++) {
                    keys[j] = ByteBuffer.allocate(16).putLong(rnd.nextLong()).putLong(rnd.nextLong()).array();
                }
                insert(e, keys, value);
                if (maxNanos > 0 && System.nanoTime() - t0 > maxNanos && i + m < n) {
                    n = i + m;
                    System.out.printf("%s stopped after %d s at %,d keys: the rate below is over those%n",
                            engine, maxNanos / 1_000_000_000L, n);
                    break;
                }
                if (i + m >= next) {
                    System.out.printf("%s %,d inserted, %,.0f/s so far%n", engine, i + m, (i + m) / ((System.nanoTime() - t0) / 1e9));
                    next += 1_000_000;
                }
            }
            if (e instanceof IndexBench.StrataEngine s) {
                s.last.join();
            }
            e.sync();
            double rate = n / ((System.nanoTime() - t0) / 1e9);
            System.out.printf("RESULT %s %.0f%n", engine, rate);
            System.out.println(engine + " storage I/O of the process (/proc/self/io): " + storageIo());
            System.out.println(engine + " CPU of the process (/proc/self/stat): " + processCpu(n));
            System.out.println(engine + " CPU by thread (s): " + threadCpu());
            if (e instanceof IndexBench.StrataEngine s) {
                System.out.println("strata stats: " + s.store.stats());
                System.out.println("strata index: " + s.idx.stats());
                if (Boolean.parseBoolean(a.getOrDefault("shape", "false"))) {
                    System.out.println("strata shape (a walk after the run): " + s.idx.shape());
                }
            }
        }
        IndexBench.deleteTree(dir);
    }

    /** CPU each thread (Java threads by name, digits dropped; the JVM's compilers and GC) used so far. */
    private static String threadCpu() {
        StringBuilder sb = new StringBuilder();
        IndexBench.allThreadCpu().forEach((name, cpu) -> {
            if (cpu >= 100_000_000L && !name.endsWith(" sys")) {
                sb.append(sb.isEmpty() ? "" : ", ").append(name).append(' ').append(String.format("%.1f", cpu / 1e9));
            }
        });
        return sb.toString();
    }

    /**
     * CPU this process used so far, user and kernel, and per insert: steadier than the rate on a shared
     * machine, where waits and steal move the rate more than the work done does.
     */
    private static String processCpu(long inserts) {
        try {
            String stat = java.nio.file.Files.readString(Path.of("/proc/self/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            double user = Long.parseLong(f[11]) / 100.0; // utime and stime, in clock ticks (USER_HZ = 100)
            double sys = Long.parseLong(f[12]) / 100.0;
            return String.format("%.1f s (user %.1f s, system %.1f s), %.2f us per insert", user + sys, user, sys,
                    (user + sys) * 1e6 / inserts);
        } catch (java.io.IOException | RuntimeException ex) {
            return "unavailable (" + ex.getMessage() + ")";
        }
    }

    /** Bytes read from and written to storage by this process so far (page-cache hits excluded). */
    private static String storageIo() {
        try {
            java.util.Map<String, Long> io = new java.util.HashMap<>();
            for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/io"))) {
                String[] kv = line.split(":\\s*");
                io.put(kv[0], Long.parseLong(kv[1].trim()));
            }
            return String.format("read %,d MiB, written %,d MiB (syscalls: read %,d MiB, written %,d MiB)",
                    io.get("read_bytes") >> 20, io.get("write_bytes") >> 20, io.get("rchar") >> 20, io.get("wchar") >> 20);
        } catch (java.io.IOException | RuntimeException ex) {
            return "unavailable (" + ex.getMessage() + ")";
        }
    }

    private static void insert(IndexBench.Engine e, byte[][] keys, byte[] value) throws Exception {
        switch (e) {
            case IndexBench.StrataEngine s -> {
                IndexBatch b = new IndexBatch();
                for (byte[] k : keys) {
                    b.put(k, value);
                }
                CompletableFuture<Long> f = s.idx.applyAsync(b);
                CompletableFuture<Long> prev = s.last;
                s.last = f;
                prev.join(); // at most two batches in flight
            }
            case IndexBench.RocksEngine r -> {
                try (WriteBatch b = new WriteBatch()) {
                    for (byte[] k : keys) {
                        b.put(k, value);
                    }
                    r.db.write(r.wo, b);
                }
            }
            case IndexBench.LmdbEngine l -> {
                ByteBuffer k = ByteBuffer.allocateDirect(16);
                ByteBuffer v = ByteBuffer.allocateDirect(value.length);
                v.put(value).flip();
                try (Txn<ByteBuffer> txn = l.env.txnWrite()) {
                    for (byte[] key : keys) {
                        k.clear();
                        k.put(key).flip();
                        v.rewind();
                        l.db.put(txn, k, v);
                    }
                    txn.commit();
                }
            }
            default -> throw new IllegalArgumentException(e.name());
        }
    }
}
