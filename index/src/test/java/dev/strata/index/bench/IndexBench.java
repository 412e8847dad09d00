package dev.strata.index.bench;

import dev.strata.compute.PageStore;
import dev.strata.compute.PageStoreConfig;
import dev.strata.index.Index;
import dev.strata.index.IndexBatch;
import dev.strata.index.IndexEntry;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.lmdbjava.Cursor;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.EnvFlags;
import org.lmdbjava.Txn;
import org.rocksdb.Options;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * Side-by-side run shaped like the lmdbjava benchmark suite: N 4-byte big-endian int keys
 * (sequential or random order) x 100-byte values; phases write (load into an empty store, durable
 * at the end of the phase), readKey (every key once, random order) and readSeq (full iteration),
 * with 1 and 2 threads, against Strata's index, RocksDB and LMDB, in one JVM. Each cell is the median
 * of {@code repeats} runs, each on a fresh store.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED --add-opens java.base/java.nio=ALL-UNNAMED \
 *      --add-opens java.base/sun.nio.ch=ALL-UNNAMED -cp ... dev.strata.index.bench.IndexBench \
 *      [keys=1000000] [repeats=3] [dir=/dev/shm/strata-bench] [engines=strata,rocksdb,lmdb]
 *      [orders=seq,rnd] [threads=1,2] [reads=true] [warmup=0]
 * </pre>
 *
 * {@code warmup=N} runs N uncounted rounds of every engine and phase first (JIT warm-up for the
 * Java code paths of all three engines; JMH would call them warm-up iterations).
 */
public final class IndexBench {
    static final int VALUE = 100;
    static final int BATCH = 10_000;

    private IndexBench() {}

    /** One engine behind the workload. */
    interface Engine extends AutoCloseable {
        String name();

        /** Inserts keys[from, to) in that order; the caller syncs once at the end. */
        void write(int[] keys, int from, int to, byte[] value) throws Exception;

        /** Makes every write so far durable. */
        void sync() throws Exception;

        /** Reads keys[from, to); returns a checksum over the values. */
        long readKeys(int[] keys, int from, int to) throws Exception;

        /** Iterates everything; returns the count. */
        long readSeq() throws Exception;

        @Override
        void close();
    }

    static byte[] key(int k) {
        return new byte[] {(byte) (k >>> 24), (byte) (k >>> 16), (byte) (k >>> 8), (byte) k};
    }

    // ------------------------------------------------------------------ engines

    static final class StrataEngine implements Engine {
        final PageStore store;
        final Index idx;
        volatile CompletableFuture<Long> last = CompletableFuture.completedFuture(0L);

        StrataEngine(Path dir, long poolBytes) {
            // -Dstrata.bench.compress-pages=false: page images written whole, for an A/B of page compression;
            // -Dstrata.bench.huge-pages=true: a new store's pool on huge pages, for an A/B of those
            store = PageStore.open(dir, PageStoreConfig.defaults().withPool(poolBytes).withCapacity(64L << 30)
                    .withPageCompression(Boolean.parseBoolean(
                            System.getProperty("strata.bench.compress-pages", "true")))
                    .withHugePages(Boolean.getBoolean("strata.bench.huge-pages")));
            idx = Index.open(store, "bench");
        }

        @Override
        public String name() {
            return "strata";
        }

        @Override
        public void write(int[] keys, int from, int to, byte[] value) {
            CompletableFuture<Long> f = null;
            for (int i = from; i < to; i += BATCH) {
                IndexBatch b = new IndexBatch();
                for (int j = i; j < Math.min(to, i + BATCH); j++) {
                    b.put(key(keys[j]), value);
                }
                f = idx.applyAsync(b);
            }
            if (f != null) {
                f.join();
            }
        }

        @Override
        public void sync() {
            // every write call waited for its last commit to be durable
        }

        @Override
        public long readKeys(int[] keys, int from, int to) {
            long sum = 0;
            for (int i = from; i < to; i++) {
                byte[] v = idx.get(key(keys[i]));
                sum += v[0];
            }
            return sum;
        }

        @Override
        public long readSeq() {
            long n = 0;
            for (Iterator<IndexEntry> it = idx.scan(null, null); it.hasNext(); it.next()) {
                n++;
            }
            return n;
        }

        @Override
        public void close() {
            store.close();
        }
    }

    static final class RocksEngine implements Engine {
        static {
            RocksDB.loadLibrary();
        }

        final Options options;
        final RocksDB db;
        final WriteOptions wo = new WriteOptions().setSync(false);

        RocksEngine(Path dir, long cacheBytes) throws RocksDBException {
            options = new Options().setCreateIfMissing(true);
            options.setWriteBufferSize(Math.max(64L << 20, cacheBytes / 4));
            org.rocksdb.BlockBasedTableConfig t = new org.rocksdb.BlockBasedTableConfig();
            t.setBlockCache(new org.rocksdb.LRUCache(cacheBytes));
            options.setTableFormatConfig(t);
            db = RocksDB.open(options, dir.toString());
        }

        @Override
        public String name() {
            return "rocksdb";
        }

        @Override
        public void write(int[] keys, int from, int to, byte[] value) throws RocksDBException {
            for (int i = from; i < to; i += BATCH) {
                try (WriteBatch b = new WriteBatch()) {
                    for (int j = i; j < Math.min(to, i + BATCH); j++) {
                        b.put(key(keys[j]), value);
                    }
                    db.write(wo, b);
                }
            }
        }

        @Override
        public void sync() throws RocksDBException {
            db.flushWal(true);
        }

        @Override
        public long readKeys(int[] keys, int from, int to) throws RocksDBException {
            byte[] v = new byte[VALUE];
            long sum = 0;
            try (ReadOptions ro = new ReadOptions()) {
                for (int i = from; i < to; i++) {
                    if (db.get(ro, key(keys[i]), v) < 0) {
                        throw new IllegalStateException("missing key " + keys[i]);
                    }
                    sum += v[0];
                }
            }
            return sum;
        }

        @Override
        public long readSeq() {
            long n = 0;
            try (RocksIterator it = db.newIterator()) {
                for (it.seekToFirst(); it.isValid(); it.next()) {
                    n++;
                }
            }
            return n;
        }

        @Override
        public void close() {
            db.close();
            options.close();
            wo.close();
        }
    }

    static final class LmdbEngine implements Engine {
        final Env<ByteBuffer> env;
        final Dbi<ByteBuffer> db;

        LmdbEngine(Path dir, long mapBytes) {
            env = Env.create().setMapSize(mapBytes).setMaxDbs(1).setMaxReaders(16)
                    .open(dir.toFile(), EnvFlags.MDB_NOSYNC, EnvFlags.MDB_NOMETASYNC, EnvFlags.MDB_NOTLS);
            db = env.openDbi("bench", DbiFlags.MDB_CREATE);
        }

        @Override
        public String name() {
            return "lmdb";
        }

        @Override
        public void write(int[] keys, int from, int to, byte[] value) {
            ByteBuffer k = ByteBuffer.allocateDirect(4).order(ByteOrder.BIG_ENDIAN);
            ByteBuffer v = ByteBuffer.allocateDirect(VALUE);
            v.put(value).flip();
            for (int i = from; i < to; i += BATCH) {
                try (Txn<ByteBuffer> txn = env.txnWrite()) {
                    for (int j = i; j < Math.min(to, i + BATCH); j++) {
                        k.clear();
                        k.putInt(keys[j]).flip();
                        v.rewind();
                        db.put(txn, k, v);
                    }
                    txn.commit();
                }
            }
        }

        @Override
        public void sync() {
            env.sync(true);
        }

        @Override
        public long readKeys(int[] keys, int from, int to) {
            ByteBuffer k = ByteBuffer.allocateDirect(4).order(ByteOrder.BIG_ENDIAN);
            long sum = 0;
            try (Txn<ByteBuffer> txn = env.txnRead()) {
                for (int i = from; i < to; i++) {
                    k.clear();
                    k.putInt(keys[i]).flip();
                    ByteBuffer v = db.get(txn, k);
                    sum += v.get(0);
                }
            }
            return sum;
        }

        @Override
        public long readSeq() {
            long n = 0;
            try (Txn<ByteBuffer> txn = env.txnRead(); Cursor<ByteBuffer> c = db.openCursor(txn)) {
                if (c.first()) {
                    do {
                        n++;
                    } while (c.next());
                }
            }
            return n;
        }

        @Override
        public void close() {
            env.close();
        }
    }

    static Engine open(String engine, Path dir, long memoryBytes) throws Exception {
        Files.createDirectories(dir);
        return switch (engine) {
            case "strata" -> new StrataEngine(dir, memoryBytes);
            case "rocksdb" -> new RocksEngine(dir, memoryBytes);
            case "lmdb" -> new LmdbEngine(dir, 64L << 30);
            default -> throw new IllegalArgumentException("unknown engine " + engine);
        };
    }

    // ------------------------------------------------------------------ driver

    interface Part {
        long run(int t) throws Exception;
    }

    /** Runs {@code part} on {@code threads} threads; returns elapsed nanoseconds. */
    static long timed(ExecutorService pool, int threads, Part part) throws Exception {
        long t0 = System.nanoTime();
        List<Future<Long>> fs = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int tt = t;
            fs.add(pool.submit(() -> part.run(tt)));
        }
        for (Future<Long> f : fs) {
            f.get();
        }
        return System.nanoTime() - t0;
    }

    static void deleteTree(Path p) throws IOException {
        if (Files.exists(p)) {
            try (var s = Files.walk(p)) {
                s.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
            }
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new LinkedHashMap<>();
        for (String s : args) {
            int eq = s.indexOf('=');
            a.put(s.substring(0, eq), s.substring(eq + 1));
        }
        int n = Integer.parseInt(a.getOrDefault("keys", "1000000"));
        int repeats = Integer.parseInt(a.getOrDefault("repeats", "3"));
        Path root = Path.of(a.getOrDefault("dir", "/dev/shm/strata-bench"));
        List<String> engines = List.of(a.getOrDefault("engines", "strata,rocksdb,lmdb").split(","));
        List<String> orders = List.of(a.getOrDefault("orders", "seq,rnd").split(","));
        int[] threadCounts = java.util.Arrays.stream(a.getOrDefault("threads", "1,2").split(","))
                .mapToInt(Integer::parseInt).toArray();
        boolean reads = Boolean.parseBoolean(a.getOrDefault("reads", "true"));
        int warmups = Integer.parseInt(a.getOrDefault("warmup", "0"));
        long memory = Long.parseLong(a.getOrDefault("memoryMiB", "1024")) << 20;
        Map<String, List<Double>> results = new LinkedHashMap<>();
        ExecutorService pool = Executors.newFixedThreadPool(2, r -> { // daemons: a failing run must not hang
            Thread t = new Thread(r);
            t.setDaemon(true);
            return t;
        });
        byte[] value = new byte[VALUE];
        new Random(7).nextBytes(value);
        value[0] = 1;
        for (int rep = -warmups; rep < repeats; rep++) {
            if (rep == 0) {
                results.clear(); // warm-up rounds (every engine, every phase) are not counted
                System.out.println("-- end of warm-up");
            }
            for (String order : orders) {
                int[] keys = keys(order, n, rep);
                int[] readOrder = keys.clone();
                shuffle(readOrder, new Random(99 + rep));
                for (String engine : engines) {
                    for (int threads : threadCounts) {
                        runEngine(pool, results, engine, order, threads, keys, readOrder, value, root, memory, reads);
                    }
                }
            }
        }
        pool.shutdown();
        deleteTree(root);
        System.out.println();
        System.out.printf("%-8s %-4s %-8s %-3s %14s%n", "engine", "keys", "phase", "thr", "median ops/s");
        for (var e : results.entrySet()) {
            String[] k = e.getKey().split("/");
            System.out.printf("%-8s %-4s %-8s %-3s %,14.0f%n", k[0], k[1], k[2], k[3], median(e.getValue()));
        }
        System.out.println();
        System.out.println("ratios strata / peer (medians):");
        for (var e : results.entrySet()) {
            String[] k = e.getKey().split("/");
            if (!k[0].equals("strata")) {
                continue;
            }
            StringBuilder sb = new StringBuilder(String.format("%-4s %-8s %-3s", k[1], k[2], k[3]));
            for (String peer : List.of("rocksdb", "lmdb")) {
                List<Double> p = results.get(peer + "/" + k[1] + "/" + k[2] + "/" + k[3]);
                if (p != null) {
                    sb.append(String.format("  vs %s %.2fx", peer, median(e.getValue()) / median(p)));
                }
            }
            System.out.println(sb);
        }
    }

    /** The keys 0 .. n-1, in order or (rnd) shuffled with a seed of the round. */
    static int[] keys(String order, int n, int rep) {
        int[] keys = new int[n];
        for (int i = 0; i < n; i++) {
            keys[i] = i;
        }
        if (order.equals("rnd")) {
            shuffle(keys, new Random(42 + rep));
        }
        return keys;
    }

    /**
     * One engine's phases on a fresh store: write, then (with {@code reads}) readKey and readSeq. Kept out
     * of {@link #main}'s loop so that the JIT compiles it as a method once: as part of that loop it was
     * compiled on-stack-replacement, about a second of C2 time that landed in the first phase of a round
     * (Strata's sequential 1-thread write) whenever that compiled loop was thrown away.
     */
    static void runEngine(ExecutorService pool, Map<String, List<Double>> results, String engine, String order,
            int threads, int[] keys, int[] readOrder, byte[] value, Path root, long memory, boolean reads)
            throws Exception {
        int n = keys.length;
        Path dir = root.resolve(engine + "-" + order + "-" + threads);
        deleteTree(dir);
        try (Engine e = open(engine, dir, memory)) {
            int per = n / threads;
            Map<String, Long> tc0 = threadCpu();
            long c0 = processCpuNanos();
            long w = timed(pool, threads, t -> {
                e.write(keys, t * per, t == threads - 1 ? n : (t + 1) * per, value);
                return 0L;
            });
            long s0 = System.nanoTime();
            e.sync();
            w += System.nanoTime() - s0;
            record(results, engine, order, "write", threads, n, w, processCpuNanos() - c0);
            printThreadCpu(engine + " " + order + " write", tc0, threadCpu());
            if (!reads) {
                return; // closes the engine; the next store deletes its directory first
            }
            long r = timed(pool, threads, t -> {
                long sum = e.readKeys(readOrder, t * per, t == threads - 1 ? n : (t + 1) * per);
                if (sum != (t == threads - 1 ? n - t * per : per)) {
                    throw new IllegalStateException(engine + " read checksum " + sum);
                }
                return sum;
            });
            record(results, engine, order, "readKey", threads, n, r);
            long q = timed(pool, threads, t -> {
                long c = e.readSeq();
                if (c != n) {
                    throw new IllegalStateException(engine + " iterated " + c + " of " + n);
                }
                return c;
            });
            record(results, engine, order, "readSeq", threads, (long) n * threads, q);
        }
        deleteTree(dir);
    }

    static void record(Map<String, List<Double>> results, String engine, String order, String phase, int threads,
            long ops, long nanos) {
        record(results, engine, order, phase, threads, ops, nanos, -1);
    }

    /**
     * As above; {@code cpuNanos} ({@code >= 0}): the CPU time of the whole process over the phase (every
     * thread: the engine's background threads, the JIT and GC too), printed per operation. Less swayed than
     * the rate by other load on a shared machine, so A/B comparisons can use it too.
     */
    static void record(Map<String, List<Double>> results, String engine, String order, String phase, int threads,
            long ops, long nanos, long cpuNanos) {
        double rate = ops / (nanos / 1e9);
        results.computeIfAbsent(engine + "/" + order + "/" + phase + "/" + threads, x -> new ArrayList<>()).add(rate);
        System.out.printf("%s %s %s threads=%d: %,.0f ops/s%s%n", engine, order, phase, threads, rate,
                cpuNanos < 0 ? "" : String.format(" (process CPU %,.0f ns/op)", (double) cpuNanos / ops));
    }

    /** CPU time of this process so far (all threads), or 0 where the JVM does not report it. */
    /**
     * CPU nanoseconds of every live thread, by name (threads of one name summed), and under the name with
     * " sys" appended the part spent in the kernel; with -Dstrata.bench.thread-cpu=true.
     */
    static Map<String, Long> threadCpu() {
        return Boolean.getBoolean("strata.bench.thread-cpu") ? allThreadCpu() : new java.util.TreeMap<>();
    }

    /** CPU of every thread by name (digits dropped), with its kernel part as {@code "<name> sys"}, and the JVM's. */
    static Map<String, Long> allThreadCpu() {
        Map<String, Long> m = new java.util.TreeMap<>();
        var mx = java.lang.management.ManagementFactory.getThreadMXBean();
        for (long id : mx.getAllThreadIds()) {
            var info = mx.getThreadInfo(id);
            long cpu = mx.getThreadCpuTime(id);
            long user = mx.getThreadUserTime(id);
            if (info != null && cpu > 0) {
                String name = info.getThreadName().replaceAll("-?\\d+$", "");
                m.merge(name, cpu, Long::sum);
                m.merge(name + " sys", Math.max(0, cpu - user), Long::sum);
            }
        }
        jvmThreadCpu(m);
        return m;
    }

    /**
     * Adds the CPU of the JVM's own threads (compilers, GC, VM thread), which the thread MXBean does not list,
     * from {@code /proc/self/task/<tid>/stat} (clock ticks of 10 ms): what a phase's process CPU spends beyond
     * the engine's threads.
     */
    static void jvmThreadCpu(Map<String, Long> m) {
        java.io.File[] tasks = new java.io.File("/proc/self/task").listFiles();
        if (tasks == null) {
            return;
        }
        for (java.io.File t : tasks) {
            try {
                String comm = java.nio.file.Files.readString(t.toPath().resolve("comm")).trim();
                String group = comm.startsWith("C2 Compiler") ? "jvm-C2" : comm.startsWith("C1 Compiler") ? "jvm-C1"
                        : comm.startsWith("GC Thread") || comm.startsWith("G1 ") ? "jvm-GC"
                        : comm.equals("VM Thread") ? "jvm-VM" : null;
                if (group == null) {
                    continue;
                }
                String stat = java.nio.file.Files.readString(t.toPath().resolve("stat"));
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime
                m.merge(group, ticks * 10_000_000L, Long::sum);
            } catch (java.io.IOException | RuntimeException e) {
                // the thread ended meanwhile
            }
        }
    }

    /** Prints the threads that used at least 5 ms of CPU between two {@link #threadCpu} snapshots. */
    static void printThreadCpu(String what, Map<String, Long> before, Map<String, Long> after) {
        if (after.isEmpty()) {
            return;
        }
        StringBuilder sb = new StringBuilder("  thread CPU (ms) in " + what + ":");
        after.forEach((name, cpu) -> {
            long d = cpu - before.getOrDefault(name, 0L);
            if (d >= 5_000_000L) {
                sb.append(' ').append(name).append('=').append(d / 1_000_000L);
            }
        });
        System.out.println(sb);
    }

    static long processCpuNanos() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                instanceof com.sun.management.OperatingSystemMXBean os) {
            return Math.max(0, os.getProcessCpuTime());
        }
        return 0;
    }

    static double median(List<Double> xs) {
        double[] d = xs.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(d);
        return d.length % 2 == 1 ? d[d.length / 2] : (d[d.length / 2 - 1] + d[d.length / 2]) / 2;
    }

    static void shuffle(int[] a, Random r) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
}
