package dev.strata.bench;

import dev.strata.compute.PageStore;
import dev.strata.compute.PageStoreConfig;
import dev.strata.index.Index;
import dev.strata.index.IndexBatch;
import dev.strata.index.IndexEntry;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import org.lmdbjava.Cursor;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.EnvFlags;
import org.lmdbjava.Txn;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * One ordered key-value engine behind the index workloads (4-byte big-endian int keys, fixed-size
 * values), so the same benchmark runs against Strata's index, RocksDB and LMDB. Writes go in batches
 * of {@link #BATCH}; {@link #sync} makes every write so far durable. Thread-safe as each engine is:
 * writers and readers may run on several threads at once.
 */
public interface KvEngine extends AutoCloseable {
    int BATCH = 10_000;

    /** Inserts {@code keys[from, to)} in that order with {@code value}. */
    void write(int[] keys, int from, int to, byte[] value) throws Exception;

    /** Makes every write so far durable. */
    void sync() throws Exception;

    /** Reads {@code keys[from, to)}; returns the sum of the values' first bytes. */
    long readKeys(int[] keys, int from, int to) throws Exception;

    /** Iterates all entries in key order; returns their number. */
    long readSeq() throws Exception;

    @Override
    void close();

    /** Opens {@code engine} ({@code strata}, {@code rocksdb} or {@code lmdb}) fresh in {@code dir} with {@code memoryBytes} of cache. */
    static KvEngine open(String engine, Path dir, long memoryBytes) throws Exception {
        Files.createDirectories(dir);
        return switch (engine) {
            case "strata" -> new Strata(dir, memoryBytes);
            case "rocksdb" -> new Rocks(dir, memoryBytes);
            case "lmdb" -> new Lmdb(dir, 64L << 30);
            default -> throw new IllegalArgumentException("unknown engine " + engine);
        };
    }

    static byte[] key(int k) {
        return new byte[] {(byte) (k >>> 24), (byte) (k >>> 16), (byte) (k >>> 8), (byte) k};
    }

    /** Strata's B-epsilon index on an embedded page store (pool = memory), durable at each group commit. */
    final class Strata implements KvEngine {
        private final PageStore store;
        private final Index idx;
        private final ThreadLocal<CompletableFuture<Long>> last = ThreadLocal.withInitial(() -> null);

        Strata(Path dir, long poolBytes) {
            store = PageStore.open(dir, PageStoreConfig.defaults().withPool(poolBytes).withCapacity(64L << 30));
            idx = Index.open(store, "bench");
        }

        @Override
        public void write(int[] keys, int from, int to, byte[] value) {
            for (int i = from; i < to; i += BATCH) {
                IndexBatch b = new IndexBatch();
                for (int j = i; j < Math.min(to, i + BATCH); j++) {
                    b.put(key(keys[j]), value);
                }
                last.set(idx.applyAsync(b));
            }
        }

        @Override
        public void sync() {
            CompletableFuture<Long> f = last.get();
            if (f != null) {
                f.join(); // the log is written in order: this thread's last batch durable means all are
            }
        }

        @Override
        public long readKeys(int[] keys, int from, int to) {
            long sum = 0;
            for (int i = from; i < to; i++) {
                sum += idx.get(key(keys[i]))[0];
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

    /** RocksDB with the WAL on, {@code sync=false} per batch and {@code flushWal(true)} to sync. */
    final class Rocks implements KvEngine {
        static {
            RocksDB.loadLibrary();
        }

        private final Options options;
        private final RocksDB db;
        private final WriteOptions wo = new WriteOptions().setSync(false);

        Rocks(Path dir, long cacheBytes) throws RocksDBException {
            options = new Options().setCreateIfMissing(true);
            options.setWriteBufferSize(Math.max(64L << 20, cacheBytes / 4));
            BlockBasedTableConfig t = new BlockBasedTableConfig();
            t.setBlockCache(new LRUCache(cacheBytes));
            options.setTableFormatConfig(t);
            db = RocksDB.open(options, dir.toString());
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
            byte[] v = new byte[128];
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

    /** LMDB with {@code MDB_NOSYNC} (one write transaction per batch) and {@code env.sync(true)} to sync. */
    final class Lmdb implements KvEngine {
        private final Env<ByteBuffer> env;
        private final Dbi<ByteBuffer> db;

        Lmdb(Path dir, long mapBytes) {
            env = Env.create().setMapSize(mapBytes).setMaxDbs(1).setMaxReaders(16)
                    .open(dir.toFile(), EnvFlags.MDB_NOSYNC, EnvFlags.MDB_NOMETASYNC, EnvFlags.MDB_NOTLS);
            db = env.openDbi("bench", DbiFlags.MDB_CREATE);
        }

        @Override
        public void write(int[] keys, int from, int to, byte[] value) {
            ByteBuffer k = ByteBuffer.allocateDirect(4).order(ByteOrder.BIG_ENDIAN);
            ByteBuffer v = ByteBuffer.allocateDirect(value.length);
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
                    sum += db.get(txn, k).get(0);
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
}
