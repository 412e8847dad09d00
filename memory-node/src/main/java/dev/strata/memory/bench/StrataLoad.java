package dev.strata.memory.bench;

import dev.strata.core.PageId;
import dev.strata.core.remote.RemoteStatus;
import dev.strata.memory.MemoryNodeClient;
import dev.strata.memory.PageRead;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Closed-loop 4 KiB page get/put against one memory node over one pipelined connection: {@code depth}
 * requests always in flight; each completion records its latency and issues the next.
 */
final class StrataLoad {
    private StrataLoad() {}

    static void preload(MemoryNodeClient c, int keys) {
        try (Arena a = Arena.ofShared()) {
            MemorySegment page = a.allocate(4096);
            for (int base = 0; base < keys; base += 256) {
                var fs = new java.util.ArrayList<java.util.concurrent.CompletableFuture<RemoteStatus>>();
                for (int k = base; k < Math.min(keys, base + 256); k++) {
                    page.set(java.lang.foreign.ValueLayout.JAVA_INT, 0, k);
                    fs.add(c.put(PageId.of(0, k), 1, 1, page));
                }
                fs.forEach(java.util.concurrent.CompletableFuture::join);
            }
        }
    }

    static Result run(MemoryNodeClient c, boolean get, int depth, int keys, double seconds) throws InterruptedException {
        long[] lat = new long[2 << 20];
        AtomicInteger n = new AtomicInteger();
        AtomicReference<Throwable> error = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(depth);
        long t0 = System.nanoTime();
        long end = t0 + (long) (seconds * 1e9);
        try (Arena arena = Arena.ofShared()) {
            for (int s = 0; s < depth; s++) {
                MemorySegment buf = arena.allocate(4096);
                buf.fill((byte) s);
                new Slot(c, get, buf, keys, end, lat, n, done, error, new SplittableRandom(s)).next();
            }
            if (!done.await((long) seconds + 30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("load did not finish");
            }
        }
        long elapsed = System.nanoTime() - t0;
        if (error.get() != null) {
            throw new IllegalStateException("request failed", error.get());
        }
        int count = Math.min(n.get(), lat.length);
        return Result.of(n.get(), elapsed, lat, count);
    }

    /**
     * The same closed loop for a client whose futures complete in the calling thread
     * ({@code callerRunsIo}): {@code depth} threads, each with one request in flight.
     */
    static Result runBlocking(MemoryNodeClient c, boolean get, int depth, int keys, double seconds) throws InterruptedException {
        long[] lat = new long[2 << 20];
        AtomicInteger n = new AtomicInteger();
        AtomicReference<Throwable> error = new AtomicReference<>();
        long t0 = System.nanoTime();
        long end = t0 + (long) (seconds * 1e9);
        Thread[] ts = new Thread[depth];
        for (int s = 0; s < depth; s++) {
            int slot = s;
            ts[s] = new Thread(() -> {
                SplittableRandom rnd = new SplittableRandom(slot);
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment buf = arena.allocate(4096);
                    buf.fill((byte) slot);
                    for (long now = System.nanoTime(); now - end < 0 && error.get() == null; now = System.nanoTime()) {
                        long pid = PageId.of(0, rnd.nextInt(keys));
                        if (get) {
                            PageRead r = c.get(pid, 0, buf).join();
                            if (!r.found()) {
                                throw new IllegalStateException("miss on " + pid);
                            }
                        } else {
                            RemoteStatus st = c.put(pid, 1, 2, buf).join();
                            if (st != RemoteStatus.OK) {
                                throw new IllegalStateException("put " + st);
                            }
                        }
                        int i = n.getAndIncrement();
                        if (i < lat.length) {
                            lat[i] = System.nanoTime() - now;
                        }
                    }
                } catch (Throwable e) {
                    error.compareAndSet(null, e);
                }
            }, "bench-caller-" + s);
            ts[s].start();
        }
        for (Thread t : ts) {
            t.join();
        }
        long elapsed = System.nanoTime() - t0;
        if (error.get() != null) {
            throw new IllegalStateException("request failed", error.get());
        }
        return Result.of(n.get(), elapsed, lat, Math.min(n.get(), lat.length));
    }

    private record Slot(MemoryNodeClient c, boolean get, MemorySegment buf, int keys, long end, long[] lat,
            AtomicInteger n, CountDownLatch done, AtomicReference<Throwable> error, SplittableRandom rnd) {
        void next() {
            long now = System.nanoTime();
            if (now - end > 0 || error.get() != null) {
                done.countDown();
                return;
            }
            long pid = PageId.of(0, rnd.nextInt(keys));
            if (get) {
                c.get(pid, 0, buf).whenComplete((PageRead r, Throwable ex) -> after(now, ex != null ? ex
                        : r.found() ? null : new IllegalStateException("miss on " + pid)));
            } else {
                c.put(pid, 1, 2, buf).whenComplete((RemoteStatus s, Throwable ex) -> after(now, ex != null ? ex
                        : s == RemoteStatus.OK ? null : new IllegalStateException("put " + s)));
            }
        }

        private void after(long start, Throwable ex) {
            if (ex != null) {
                error.compareAndSet(null, ex);
            }
            int i = n.getAndIncrement();
            if (i < lat.length) {
                lat[i] = System.nanoTime() - start;
            }
            next();
        }
    }
}
