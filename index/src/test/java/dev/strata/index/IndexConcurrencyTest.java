package dev.strata.index;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.compute.PageStore;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Writers and optimistic readers at once, on small nodes in a small pool (splits, flushes,
 * evictions under readers). Each writer owns its keys and writes increasing versions; all writers
 * add to shared counters. Readers check what a linearizable map allows: a key's version never goes
 * back, a counter never decreases, every value is well-formed, scans return strictly increasing
 * keys. One value in 31 is large (overflow pages), and checkpoints run every 50 ms, so the pages of
 * replaced large values and of emptied leaves are freed and handed out again while readers may still
 * hold their old ids. At the end the tree's invariants hold and its contents equal the writers' last writes.
 */
class IndexConcurrencyTest {
    private static final int WRITERS = 3;
    private static final int READERS = 3;
    private static final int KEYS_PER_WRITER = 3000;
    private static final int OPS_PER_WRITER = 40_000;
    private static final int COUNTERS = 8;

    @TempDir
    Path dir;

    static byte[] key(int writer, int k) {
        return String.format("w%d-%06d", writer, k).getBytes();
    }

    static byte[] counter(int c) {
        return ("counter-" + c).getBytes();
    }

    /** value = version (8 bytes), writer, key, padding of a length derived from the version; self-checking. */
    static byte[] value(int writer, int k, long version) {
        int pad = (int) (version % 97) * 3 + (version % 31 == 0 ? 4000 : 0);
        ByteBuffer b = ByteBuffer.allocate(16 + pad);
        b.putLong(version).putInt(writer).putInt(k);
        for (int i = 0; i < pad; i++) {
            b.put((byte) (version + i));
        }
        return b.array();
    }

    static long check(byte[] v, int writer, int k) {
        ByteBuffer b = ByteBuffer.wrap(v);
        long version = b.getLong();
        assertEquals(writer, b.getInt(), "value of another writer");
        assertEquals(k, b.getInt(), "value of another key");
        assertArrayEquals(value(writer, k, version), v, "torn value");
        return version;
    }

    @Test
    void readersSeeALinearizableMapWhileWritersSplitAndFlush() throws Exception {
        long seed = System.nanoTime();
        System.out.println("IndexConcurrencyTest seed " + seed);
        long[][] last = new long[WRITERS][KEYS_PER_WRITER];
        boolean[][] deleted = new boolean[WRITERS][KEYS_PER_WRITER];
        AtomicLong increments = new AtomicLong();
        ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        try (PageStore store = PageStore.open(dir,
                IndexModelTest.config(6L << 20).withCheckpointInterval(java.time.Duration.ofMillis(50)))) {
            Index idx = Index.open(store, "stress", IndexOptions.defaults().withNodeBytes(4096, 16384));
            AtomicBoolean writing = new AtomicBoolean(true);
            CountDownLatch start = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            List<Thread> writers = new ArrayList<>();
            for (int w = 0; w < WRITERS; w++) {
                int writer = w;
                Thread t = new Thread(() -> {
                    Random rnd = new Random(seed + writer);
                    try {
                        start.await();
                        long version = 0;
                        for (int op = 0; op < OPS_PER_WRITER; ) {
                            IndexBatch b = new IndexBatch();
                            int n = rnd.nextInt(4) == 0 ? 1 : 1 + rnd.nextInt(60);
                            for (int i = 0; i < n; i++, op++) {
                                int k = rnd.nextInt(KEYS_PER_WRITER);
                                if (rnd.nextInt(10) == 0) {
                                    b.delete(key(writer, k));
                                    deleted[writer][k] = true;
                                } else {
                                    version++;
                                    b.put(key(writer, k), value(writer, k, version));
                                    last[writer][k] = version;
                                    deleted[writer][k] = false;
                                }
                                if (rnd.nextInt(5) == 0) {
                                    b.upsert(counter(rnd.nextInt(COUNTERS)), UpsertOperator.ADD_LONG,
                                            UpsertOperator.longDelta(1));
                                    increments.incrementAndGet();
                                }
                            }
                            if (n == 1 && rnd.nextBoolean()) {
                                var o = b.ops.get(0);
                                switch (o.kind()) {
                                    case 1 -> idx.put(o.key(), o.value());
                                    case 2 -> idx.delete(o.key());
                                    default -> throw new AssertionError();
                                }
                                for (int i = 1; i < b.ops.size(); i++) {
                                    idx.addLong(b.ops.get(i).key(), 1);
                                }
                            } else if (rnd.nextBoolean()) {
                                idx.apply(b);
                            } else {
                                idx.applyAsync(b); // durable later; visible now
                            }
                        }
                    } catch (Throwable e) {
                        errors.add(e);
                    }
                }, "index-writer-" + w);
                writers.add(t);
                threads.add(t);
            }
            for (int r = 0; r < READERS; r++) {
                int reader = r;
                threads.add(new Thread(() -> {
                    Random rnd = new Random(seed * 31 + reader);
                    long[][] seen = new long[WRITERS][KEYS_PER_WRITER];
                    long[] counters = new long[COUNTERS];
                    try {
                        start.await();
                        while (writing.get()) {
                            int what = rnd.nextInt(100);
                            if (what < 80) {
                                int w = rnd.nextInt(WRITERS);
                                int k = rnd.nextInt(KEYS_PER_WRITER);
                                byte[] v = idx.get(key(w, k));
                                if (v != null) {
                                    long version = check(v, w, k);
                                    assertTrue(version >= seen[w][k], "version of " + w + "/" + k + " went back from "
                                            + seen[w][k] + " to " + version);
                                    seen[w][k] = version;
                                }
                            } else if (what < 95) {
                                int c = rnd.nextInt(COUNTERS);
                                byte[] v = idx.get(counter(c));
                                long now = v == null ? 0 : UpsertOperator.longValue(v);
                                assertTrue(now >= counters[c], "counter " + c + " went back from " + counters[c]
                                        + " to " + now);
                                counters[c] = now;
                            } else {
                                int w = rnd.nextInt(WRITERS);
                                int k = rnd.nextInt(KEYS_PER_WRITER);
                                Iterator<IndexEntry> it = idx.scan(key(w, k), key(w, Math.min(KEYS_PER_WRITER, k + 300)));
                                byte[] prev = null;
                                while (it.hasNext()) {
                                    IndexEntry e = it.next();
                                    if (prev != null) {
                                        assertTrue(Arrays.compareUnsigned(prev, e.key()) < 0, "scan out of order");
                                    }
                                    prev = e.key();
                                    int kk = Integer.parseInt(new String(e.key()).substring(3));
                                    check(e.value(), w, kk);
                                }
                            }
                        }
                    } catch (Throwable e) {
                        errors.add(e);
                    }
                }, "index-reader-" + r));
            }
            threads.forEach(Thread::start);
            start.countDown();
            for (Thread t : writers) {
                t.join();
            }
            writing.set(false);
            for (Thread t : threads) {
                t.join();
            }
            if (!errors.isEmpty()) {
                Throwable first = errors.peek();
                errors.stream().skip(1).forEach(first::addSuppressed);
                throw new AssertionError("concurrent run failed (seed " + seed + ")", first);
            }
            idx.checkInvariants();
            verify(idx, last, deleted, increments.get());
            System.out.println("IndexConcurrencyTest store: " + store.stats());
        }
        try (PageStore store = PageStore.open(dir, IndexModelTest.config(6L << 20))) {
            Index idx = Index.open(store, "stress");
            idx.checkInvariants();
            verify(idx, last, deleted, increments.get());
        }
    }

    private static void verify(Index idx, long[][] last, boolean[][] deleted, long increments) {
        for (int w = 0; w < WRITERS; w++) {
            for (int k = 0; k < KEYS_PER_WRITER; k++) {
                byte[] v = idx.get(key(w, k));
                if (deleted[w][k] || last[w][k] == 0) {
                    assertNull(v, "key " + w + "/" + k + " should be absent");
                } else {
                    assertEquals(last[w][k], check(v, w, k), "key " + w + "/" + k);
                }
            }
        }
        long sum = 0;
        for (int c = 0; c < COUNTERS; c++) {
            byte[] v = idx.get(counter(c));
            sum += v == null ? 0 : UpsertOperator.longValue(v);
        }
        assertEquals(increments, sum, "counter increments lost or doubled");
    }
}
