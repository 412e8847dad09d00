package dev.strata.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * The index workload of the lmdbjava benchmark suite against Strata's index, RocksDB and LMDB (one
 * {@link KvEngine} each): {@code keys} 4-byte big-endian int keys in sequential or random order with
 * 100-byte values. Each operation is a whole phase, timed as a single shot: {@code write*} loads every key
 * into a fresh, empty store (batches of 10,000, durable at the end), {@code readKey*} reads every key once
 * in random order, {@code readSeq*} iterates everything (each thread all of it). With 2 threads, writes and
 * point reads split the keys in halves. Phase rate = keys / score (readSeq2: twice that). The index
 * module's {@code dev.strata.index.bench.IndexBench} main runs the same phases without JMH, every engine
 * and phase in one JVM.
 *
 * <p>As in the lmdbjava suite, every engine and phase runs in a fork of its own after a warm-up, and the
 * read phases read one store loaded once per fork (lmdbjava's {@code Reader} state) while every write
 * phase starts from a fresh store (its {@code Writer} state). lmdbjava warms up for three iterations of
 * JMH's default 10 s, dozens of phases; here it is {@link #WARMUP} single-shot phases, enough for C2 to
 * have compiled Strata's write path (it keeps recompiling it for ~15 loads of 1M keys), then
 * {@link #MEASURED} counted ones.
 *
 * <pre>
 * ./strata bench IndexBench                              # every engine, order, phase, 1 and 2 threads
 * ./strata bench IndexBench -p engine=strata,lmdb -p order=rnd -p keys=200000
 * ./strata bench IndexBench -wi 2 -i 3                   # a quick look: JIT still warming up
 * </pre>
 *
 * Stores live under {@code -Dbench.dir} (default {@code /dev/shm} when present, else the temp dir),
 * each with 1 GiB of memory (Strata's pool, RocksDB's block cache; RocksDB's write buffer is 1/4 of it).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = IndexBench.WARMUP)
@Measurement(iterations = IndexBench.MEASURED)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx3g",
        "--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED"})
public class IndexBench extends BenchBase {
    static final int VALUE_BYTES = 100;
    static final int WARMUP = 20;
    static final int MEASURED = 5;

    @Param({"strata", "rocksdb", "lmdb"})
    public String engine;

    @Param({"seq", "rnd"})
    public String order;

    @Param({"1000000"})
    public int keys;

    @Param({"1024"})
    public int memoryMiB;

    int[] writeOrder;
    int[] readOrder;
    final byte[] value = new byte[VALUE_BYTES];
    KvEngine db;
    private Path dir;
    private final AtomicInteger parts = new AtomicInteger();

    @Setup(Level.Trial)
    public void keys() {
        writeOrder = new int[keys];
        for (int i = 0; i < keys; i++) {
            writeOrder[i] = i;
        }
        if (order.equals("rnd")) {
            shuffle(writeOrder, new Random(42));
        }
        readOrder = writeOrder.clone();
        shuffle(readOrder, new Random(99));
        new Random(7).nextBytes(value);
        value[0] = 1;
    }

    /**
     * A write phase's fresh store, before each of its iterations; a read phase's loaded store (one thread,
     * synced), before its first.
     */
    @Setup(Level.Iteration)
    public void open(BenchmarkParams params) throws Exception {
        parts.set(0);
        if (db != null) {
            return; // a read phase's store, loaded for the fork's first iteration
        }
        Path base = Path.of(System.getProperty("bench.dir",
                Files.isDirectory(Path.of("/dev/shm")) ? "/dev/shm" : System.getProperty("java.io.tmpdir")));
        Files.createDirectories(base);
        dir = Files.createTempDirectory(base, "index-bench-" + engine + "-");
        db = KvEngine.open(engine, dir, (long) memoryMiB << 20);
        if (!params.getBenchmark().contains(".write")) {
            db.write(writeOrder, 0, keys, value);
            db.sync();
        }
    }

    /** After each write iteration: its store goes. */
    @TearDown(Level.Iteration)
    public void closeWritten(BenchmarkParams params) throws IOException {
        if (params.getBenchmark().contains(".write")) {
            close();
        }
    }

    /** After the fork's last iteration: a read phase's store goes. */
    @TearDown(Level.Trial)
    public void close() throws IOException {
        if (db == null) {
            return;
        }
        try {
            db.close();
        } finally {
            db = null;
            try (var walk = Files.walk(dir)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** This thread's share of the keys: part {@code index} of {@code count}. */
    @State(Scope.Thread)
    public static class Part {
        int from;
        int to;

        @Setup(Level.Iteration)
        public void setup(IndexBench bench, BenchmarkParams params) {
            int count = params.getThreads();
            int index = bench.parts.getAndIncrement() % count;
            int per = bench.keys / count;
            from = index * per;
            to = index == count - 1 ? bench.keys : from + per;
        }
    }

    @Benchmark
    @Threads(1)
    public long write1(Part p) throws Exception {
        return write(p);
    }

    @Benchmark
    @Threads(2)
    public long write2(Part p) throws Exception {
        return write(p);
    }

    @Benchmark
    @Threads(1)
    public long readKey1(Part p) throws Exception {
        return readKey(p);
    }

    @Benchmark
    @Threads(2)
    public long readKey2(Part p) throws Exception {
        return readKey(p);
    }

    @Benchmark
    @Threads(1)
    public long readSeq1() throws Exception {
        return readSeq();
    }

    @Benchmark
    @Threads(2)
    public long readSeq2() throws Exception {
        return readSeq();
    }

    private long write(Part p) throws Exception {
        db.write(writeOrder, p.from, p.to, value);
        db.sync();
        return p.to - p.from;
    }

    private long readKey(Part p) throws Exception {
        long sum = db.readKeys(readOrder, p.from, p.to);
        if (sum != p.to - p.from) {
            throw new IllegalStateException(engine + " read checksum " + sum + " for " + (p.to - p.from) + " keys");
        }
        return sum;
    }

    private long readSeq() throws Exception {
        long n = db.readSeq();
        if (n != keys) {
            throw new IllegalStateException(engine + " iterated " + n + " of " + keys);
        }
        return n;
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
