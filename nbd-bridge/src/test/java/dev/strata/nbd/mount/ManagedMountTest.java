package dev.strata.nbd.mount;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.nbd.Backend;
import dev.strata.nbd.backend.MemoryBackend;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class ManagedMountTest {
    static final int CHUNK = 64 * 1024;
    static final long SIZE = 64L * CHUNK;

    /** A remote that records calls and can hold the next write until released. */
    static class Remote implements Backend {
        final MemoryBackend mem = new MemoryBackend(SIZE);
        final List<Long> readOffsets = Collections.synchronizedList(new ArrayList<>());
        final AtomicInteger writes = new AtomicInteger();
        volatile CountDownLatch holdNextWrite;
        volatile CountDownLatch writeHeld = new CountDownLatch(1);

        public long size() {
            return SIZE;
        }

        public void readAt(long offset, MemorySegment dst) {
            readOffsets.add(offset);
            mem.readAt(offset, dst);
        }

        public void writeAt(long offset, MemorySegment src) throws IOException {
            CountDownLatch hold = holdNextWrite;
            if (hold != null) {
                holdNextWrite = null;
                writeHeld.countDown();
                try {
                    if (!hold.await(30, TimeUnit.SECONDS)) {
                        throw new IOException("held write never released");
                    }
                } catch (InterruptedException e) {
                    throw new IOException(e);
                }
            }
            writes.incrementAndGet();
            mem.writeAt(offset, src);
        }

        public void sync() {}

        public void close() {
            mem.close();
        }

        byte[] bytes(long off, int len) {
            byte[] b = new byte[len];
            mem.readAt(off, MemorySegment.ofArray(b));
            return b;
        }
    }

    static MountConfig config(int pullWorkers, Duration pushInterval) {
        return new MountConfig(CHUNK, pullWorkers, 4, 4, 4, pushInterval, 4, null);
    }

    static byte[] fill(int len, int v) {
        byte[] b = new byte[len];
        java.util.Arrays.fill(b, (byte) v);
        return b;
    }

    @Test
    void flushReturnsOnlyAfterDirtyDataReachedTheRemote() throws Exception {
        try (Remote remote = new Remote(); ManagedMount m = new ManagedMount(remote, config(0, Duration.ofHours(1)))) {
            m.writeAt(5000, MemorySegment.ofArray(fill(200_000, 7)));
            assertEquals(0, remote.writes.get(), "an hour-long push interval: nothing pushed before flush");
            m.sync();
            assertArrayEquals(fill(200_000, 7), remote.bytes(5000, 200_000));
            assertEquals(0, m.stats().dirty());
        }
    }

    @Test
    void fuaWriteIsOnTheRemoteWhenItReturns() throws Exception {
        try (Remote remote = new Remote(); ManagedMount m = new ManagedMount(remote, config(0, Duration.ofHours(1)))) {
            m.writeDurable(3 * CHUNK + 10, MemorySegment.ofArray(fill(100, 9)));
            assertArrayEquals(fill(100, 9), remote.bytes(3 * CHUNK + 10, 100));
        }
    }

    @Test
    void aWriteRacingAPushIsNeverLost() throws Exception {
        try (Remote remote = new Remote(); ManagedMount m = new ManagedMount(remote, config(0, Duration.ofHours(1)))) {
            // hold the first push, whoever starts it: the sync below, or a push worker whose first pass
            // (at start-up) may already find the chunk dirty on a slow machine
            CountDownLatch release = new CountDownLatch(1);
            remote.holdNextWrite = release;
            m.writeAt(0, MemorySegment.ofArray(fill(CHUNK, 1)));
            Thread flusher = Thread.ofPlatform().start(() -> {
                try {
                    m.sync();
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            assertTrue(remote.writeHeld.await(10, TimeUnit.SECONDS), "push started");
            // the push copied generation 1; now overwrite part of the chunk while it is in flight
            m.writeAt(100, MemorySegment.ofArray(fill(50, 2)));
            release.countDown();
            flusher.join(10_000);
            m.sync(); // must push the racing write too
            byte[] expect = fill(CHUNK, 1);
            java.util.Arrays.fill(expect, 100, 150, (byte) 2);
            assertArrayEquals(expect, remote.bytes(0, CHUNK));
        }
    }

    @Test
    void concurrentWritersWithBackgroundPushesEndEqualOnTheRemote() throws Exception {
        byte[] model = new byte[(int) SIZE];
        try (Remote remote = new Remote(); ManagedMount m = new ManagedMount(remote, config(2, Duration.ofMillis(1)))) {
            try (ExecutorService ex = Executors.newFixedThreadPool(4)) {
                List<Future<?>> fs = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    int id = t;
                    fs.add(ex.submit(() -> {
                        Random rnd = new Random(id);
                        long regionLen = SIZE / 4;
                        for (int i = 0; i < 400; i++) {
                            int len = 1 + rnd.nextInt(20_000);
                            long off = id * regionLen + rnd.nextInt((int) regionLen - len);
                            byte[] d = new byte[len];
                            rnd.nextBytes(d);
                            m.writeAt(off, MemorySegment.ofArray(d));
                            synchronized (model) {
                                System.arraycopy(d, 0, model, (int) off, len);
                            }
                            if (i % 100 == 99) {
                                m.sync();
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> f : fs) {
                    f.get();
                }
            }
            m.sync();
            assertArrayEquals(model, remote.bytes(0, (int) SIZE));
            byte[] local = new byte[(int) SIZE];
            m.readAt(0, MemorySegment.ofArray(local));
            assertArrayEquals(model, local);
        }
    }

    @Test
    void backgroundPullFillsTheCacheThenReadsStayLocal() throws Exception {
        try (Remote remote = new Remote()) {
            byte[] data = new byte[(int) SIZE];
            new Random(3).nextBytes(data);
            remote.mem.writeAt(0, MemorySegment.ofArray(data));
            try (ManagedMount m = new ManagedMount(remote, config(3, Duration.ofMillis(50)))) {
                dev.strata.nbd.TestWait.until(Duration.ofSeconds(20), "pull to finish",
                        () -> m.stats().present() == m.stats().chunks());
                assertEquals(SIZE, m.stats().pulledBytes());
                int reads = remote.readOffsets.size();
                assertTrue(reads <= 64 / 4 + 3, "pulls were merged into batches: " + reads);
                byte[] got = new byte[(int) SIZE];
                m.readAt(0, MemorySegment.ofArray(got));
                assertArrayEquals(data, got);
                assertEquals(reads, remote.readOffsets.size(), "no remote reads once everything is present");
            }
        }
    }

    @Test
    void pullOrderFollowsThePriorityFunction() throws Exception {
        try (Remote remote = new Remote();
             ManagedMount m = new ManagedMount(remote, new MountConfig(CHUNK, 1, 1, 1, 1, Duration.ofMillis(50), 0,
                     chunk -> chunk))) { // highest chunk first
            dev.strata.nbd.TestWait.until(Duration.ofSeconds(20), "pull to finish",
                    () -> m.stats().present() == m.stats().chunks());
            assertEquals(63L * CHUNK, remote.readOffsets.get(0));
            assertEquals(62L * CHUNK, remote.readOffsets.get(1));
        }
    }

    @Test
    void aDemandMissMovesTheChunksAfterItToTheFrontOfThePullQueue() throws Exception {
        CountDownLatch firstPullStarted = new CountDownLatch(1);
        CountDownLatch releaseFirstPull = new CountDownLatch(1);
        try (Remote remote = new Remote() {
            final java.util.concurrent.atomic.AtomicBoolean first = new java.util.concurrent.atomic.AtomicBoolean(true);

            @Override
            public void readAt(long offset, MemorySegment dst) {
                if (Thread.currentThread().getName().startsWith("nbd-mount-pull") && first.getAndSet(false)) {
                    firstPullStarted.countDown();
                    try {
                        releaseFirstPull.await(10, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                super.readAt(offset, dst);
            }
        }; ManagedMount m = new ManagedMount(remote,
                new MountConfig(CHUNK, 1, 1, 1, 1, Duration.ofMillis(50), 3, null))) { // sequential order, 1 puller
            assertTrue(firstPullStarted.await(10, TimeUnit.SECONDS));
            m.readAt(40L * CHUNK, MemorySegment.ofArray(new byte[100])); // demand miss at chunk 40
            releaseFirstPull.countDown();
            dev.strata.nbd.TestWait.until(Duration.ofSeconds(20), "pull to finish",
                    () -> m.stats().present() == m.stats().chunks());
            List<Long> order = new ArrayList<>(remote.readOffsets);
            int miss = order.indexOf(40L * CHUNK);
            assertEquals(List.of(41L * CHUNK, 42L * CHUNK, 43L * CHUNK), order.subList(miss + 2, miss + 5),
                    "after the blocked pull of chunk 0 finished, the puller went on at 41..43: " + order.subList(0, 8));
            assertEquals(0L, order.get(miss + 1), "the pull that was in flight (chunk 0) completes");
        }
    }

    @Test
    void progressIsExposedAsMetrics() throws Exception {
        var registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        try (Remote remote = new Remote(); ManagedMount m = new ManagedMount(remote, config(0, Duration.ofHours(1)))) {
            MountMetrics.bind(registry, "t", m);
            m.writeAt(0, MemorySegment.ofArray(fill(3 * CHUNK, 1)));
            assertEquals(3.0, registry.get("strata.nbd.mount.chunks.dirty").gauge().value());
            assertEquals(3.0, registry.get("strata.nbd.mount.chunks.present").gauge().value());
            m.sync();
            assertEquals(0.0, registry.get("strata.nbd.mount.chunks.dirty").gauge().value());
            assertEquals(3.0 * CHUNK, registry.get("strata.nbd.mount.pushed.bytes").functionCounter().count());
            assertEquals(64.0, registry.get("strata.nbd.mount.chunks").gauge().value());
        }
    }

    @Test
    void demandReadsFetchOnlyWhatIsMissingAndWholeChunkWritesFetchNothing() throws Exception {
        try (Remote remote = new Remote(); ManagedMount m = new ManagedMount(remote, config(0, Duration.ofHours(1)))) {
            m.readAt(10L * CHUNK + 5, MemorySegment.ofArray(new byte[CHUNK])); // chunks 10 and 11
            assertEquals(List.of(10L * CHUNK), remote.readOffsets, "one ranged read for two chunks");
            m.writeAt(20L * CHUNK, MemorySegment.ofArray(fill(2 * CHUNK, 4)));
            assertEquals(1, remote.readOffsets.size(), "whole-chunk writes need no fetch");
            assertEquals(4, m.stats().present());
        }
    }
}
