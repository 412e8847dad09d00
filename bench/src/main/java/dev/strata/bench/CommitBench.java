package dev.strata.bench;

import dev.strata.compute.PageHandle;
import dev.strata.compute.PageStore;
import dev.strata.compute.PageStoreConfig;
import dev.strata.compute.WriteBatch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteOptions;

/**
 * Durable commits: each operation commits one batch holding one 100-byte change and returns only
 * once it is durable — Strata's {@code WriteBatch.commit()} (group commit, one fsync per group)
 * against RocksDB writing the same batch with {@code sync=true}, both in a fresh directory on the
 * same file system ({@code -Dbench.dir}, default the JVM's temp dir). Run with {@code -bm sample}
 * for latency percentiles.
 */
@State(Scope.Benchmark)
public class CommitBench extends BenchBase {
    @Param({"strata", "rocksdb"})
    public String engine;

    private Path dir;
    private PageStore store;
    private RocksDB rocks;
    private Options rocksOptions;
    private WriteOptions syncWrite;
    private final AtomicInteger threadIds = new AtomicInteger();

    static {
        RocksDB.loadLibrary();
    }

    @Setup(Level.Trial)
    public void setup() throws IOException, RocksDBException {
        Path base = Path.of(System.getProperty("bench.dir", System.getProperty("java.io.tmpdir")));
        Files.createDirectories(base);
        dir = Files.createTempDirectory(base, "commit-bench-" + engine + "-");
        if (engine.equals("strata")) {
            store = PageStore.open(dir, PageStoreConfig.defaults().withPool(64L << 20)
                    .withCheckpointInterval(Duration.ofSeconds(5)));
        } else {
            rocksOptions = new Options().setCreateIfMissing(true);
            rocks = RocksDB.open(rocksOptions, dir.toString());
            syncWrite = new WriteOptions().setSync(true);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        if (store != null) {
            store.close();
        }
        if (rocks != null) {
            syncWrite.close();
            rocks.close();
            rocksOptions.close();
        }
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** Per thread: its own page (Strata) or key prefix (RocksDB) and a 100-byte value. */
    @State(Scope.Thread)
    public static class Writer {
        long page;
        byte[] key = new byte[8];
        final byte[] value = new byte[100];
        final SplittableRandom rnd = new SplittableRandom();
        int id;
        int seq;

        @Setup(Level.Trial)
        public void setup(CommitBench bench) {
            id = bench.threadIds.getAndIncrement();
            if (bench.store != null) {
                page = bench.store.allocate(4096);
            }
        }
    }

    @Benchmark
    @Threads(1)
    public long commitOneThread(Writer w) throws RocksDBException {
        return commit(w);
    }

    @Benchmark
    @Threads(16)
    public long commitSixteenThreads(Writer w) throws RocksDBException {
        return commit(w);
    }

    private long commit(Writer w) throws RocksDBException {
        w.rnd.nextBytes(w.value);
        int slot = (w.seq++ & 31) * 100;
        if (store != null) {
            try (WriteBatch b = store.newBatch()) {
                try (PageHandle h = store.fixExclusive(w.page)) {
                    b.write(h, slot, w.value);
                }
                return b.commit();
            }
        }
        long k = ((long) w.id << 40) | w.seq;
        for (int i = 0; i < 8; i++) {
            w.key[i] = (byte) (k >>> (56 - 8 * i));
        }
        try (org.rocksdb.WriteBatch b = new org.rocksdb.WriteBatch()) {
            b.put(w.key, w.value);
            rocks.write(syncWrite, b);
        }
        return k;
    }
}
