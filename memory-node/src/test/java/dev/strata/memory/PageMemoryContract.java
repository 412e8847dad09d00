package dev.strata.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.core.PageId;
import dev.strata.core.PageSize;
import dev.strata.core.remote.RemoteStatus;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Behaviour of page frames on a memory node over every transport; subclasses supply the transport. */
abstract class PageMemoryContract {
    protected MemoryNode node;
    protected MemoryNodeClient client;
    protected Arena arena;

    protected abstract MemoryNodeClient connect(MemoryNode node) throws Exception;

    @BeforeEach
    void start() throws Exception {
        node = MemoryNode.start(MemoryNodeConfig.defaults().withPort(0).withCapacity(4L << 20).withIoThreads(1));
        client = connect(node);
        arena = Arena.ofShared();
    }

    @AfterEach
    void stop() {
        client.close();
        node.close();
        arena.close();
    }

    static MemorySegment page(Arena arena, int sizeClass, long pageId, long lsn) {
        MemorySegment s = arena.allocate(PageSize.bytes(sizeClass));
        fill(s, pageId, lsn);
        return s;
    }

    static void fill(MemorySegment s, long pageId, long lsn) {
        long x = pageId * 0x9E3779B97F4A7C15L ^ lsn;
        for (long i = 0; i < s.byteSize(); i += 8) {
            x = x * 6364136223846793005L + 1442695040888963407L;
            s.set(ValueLayout.JAVA_LONG_UNALIGNED, i, x);
        }
    }

    static boolean matches(MemorySegment s, long pageId, long lsn) {
        MemorySegment expect = MemorySegment.ofArray(new byte[(int) s.byteSize()]);
        fill(expect, pageId, lsn);
        return s.mismatch(expect) == -1;
    }

    @Test
    void putThenGetReturnsBytesAndLsn() {
        long pid = PageId.of(3, 17);
        assertEquals(RemoteStatus.OK, client.put(pid, 1, 5, page(arena, 0, pid, 5)).join());
        MemorySegment dst = arena.allocate(4096);
        PageRead r = client.get(pid, 0, dst).join();
        assertEquals(new PageRead(RemoteStatus.OK, 5), r);
        assertTrue(matches(dst, pid, 5));
    }

    @Test
    void requestsToAClosedNodeFailAsUnavailable() {
        long pid = PageId.of(1, 2);
        client.put(pid, 1, 1, page(arena, 0, pid, 1)).join();
        node.close();
        var f = client.get(pid, 0, arena.allocate(4096));
        assertEquals(dev.strata.core.remote.RemoteStatus.UNAVAILABLE, RemoteMemoryContract.statusOf(f));
        assertEquals(dev.strata.core.remote.RemoteStatus.UNAVAILABLE,
                RemoteMemoryContract.statusOf(client.put(pid, 1, 2, page(arena, 0, pid, 2))));
    }

    @Test
    void missingPageIsNotFound() {
        assertEquals(PageRead.NOT_FOUND, client.get(PageId.of(1, 1), 0, arena.allocate(4096)).join());
    }

    @Test
    void everySizeClassRoundTrips() {
        for (int sc = 0; sc <= PageSize.MAX_CLASS; sc++) {
            long pid = PageId.of(0, 1000 + sc);
            assertEquals(RemoteStatus.OK, client.put(pid, 1, 9, page(arena, sc, pid, 9)).join());
            MemorySegment dst = arena.allocate(PageSize.bytes(sc));
            assertEquals(9, client.get(pid, sc, dst).join().lsn());
            assertTrue(matches(dst, pid, 9), "class " + sc);
        }
        long pid = PageId.of(0, 1003);
        assertEquals(PageRead.NOT_FOUND, client.get(pid, 0, arena.allocate(4096)).join(), "other size class");
    }

    @Test
    void olderLsnIsIgnoredAndNewerWins() {
        long pid = PageId.of(2, 2);
        client.put(pid, 1, 10, page(arena, 0, pid, 10)).join();
        assertEquals(RemoteStatus.STALE_LSN, client.put(pid, 1, 9, page(arena, 0, pid, 9)).join());
        MemorySegment dst = arena.allocate(4096);
        assertEquals(10, client.get(pid, 0, dst).join().lsn());
        assertTrue(matches(dst, pid, 10));
        assertEquals(RemoteStatus.OK, client.put(pid, 1, 11, page(arena, 0, pid, 11)).join());
        assertEquals(11, client.get(pid, 0, dst).join().lsn());
        assertTrue(matches(dst, pid, 11));
    }

    @Test
    void aNewEpochReplacesACopyWhateverItsLsn() {
        long pid = PageId.of(9, 3);
        assertEquals(RemoteStatus.OK, client.put(pid, 1, 50, page(arena, 0, pid, 50)).join());
        // the new owner cut the deposed owner's log tail: its LSNs restart below 50
        assertEquals(RemoteStatus.OK, client.put(pid, 2, 40, page(arena, 0, pid, 40)).join());
        MemorySegment dst = arena.allocate(4096);
        assertEquals(40, client.get(pid, 0, dst).join().lsn());
        assertTrue(matches(dst, pid, 40));
        assertEquals(RemoteStatus.STALE_LSN, client.put(pid, 2, 39, page(arena, 0, pid, 39)).join());
    }

    @Test
    void lowerEpochWritesAreFenced() {
        long pid = PageId.of(7, 1);
        assertEquals(RemoteStatus.OK, client.put(pid, 3, 1, page(arena, 0, pid, 1)).join());
        assertEquals(RemoteStatus.STALE_EPOCH, client.put(pid, 2, 2, page(arena, 0, pid, 2)).join());
        assertEquals(5L, client.fence(7, 5).join());
        assertEquals(5L, client.fence(7, 4).join(), "fence never lowers the epoch");
        assertEquals(RemoteStatus.STALE_EPOCH, client.put(pid, 4, 3, page(arena, 0, pid, 3)).join());
        assertEquals(RemoteStatus.STALE_EPOCH, client.free(pid, 4).join());
        long other = PageId.of(8, 1);
        assertEquals(RemoteStatus.OK, client.put(other, 1, 1, page(arena, 0, other, 1)).join(), "other partitions unaffected");
        MemorySegment dst = arena.allocate(4096);
        assertEquals(1, client.get(pid, 0, dst).join().lsn());
        assertTrue(matches(dst, pid, 1), "fenced writes changed nothing");
        assertEquals(RemoteStatus.OK, client.put(pid, 5, 4, page(arena, 0, pid, 4)).join());
    }

    @Test
    void fullWhenCapacityIsExhaustedButExistingPagesStillUpdate() {
        int stored = 0;
        RemoteStatus s;
        while ((s = client.put(PageId.of(0, stored), 1, 1, page(arena, 0, stored, 1)).join()) == RemoteStatus.OK) {
            stored++;
        }
        assertEquals(RemoteStatus.FULL, s);
        assertEquals(1024, stored, "4 MiB of 4 KiB frames");
        assertEquals(RemoteStatus.OK, client.put(PageId.of(0, 0), 1, 2, page(arena, 0, 0, 2)).join());
        assertEquals(RemoteStatus.FULL, client.put(PageId.of(0, 5000), 1, 1, page(arena, 0, 5000, 1)).join());
        assertEquals(RemoteStatus.OK, client.free(PageId.of(0, 1), 1).join());
        assertEquals(RemoteStatus.OK, client.put(PageId.of(0, 5000), 1, 1, page(arena, 0, 5000, 1)).join());
        assertEquals(RemoteStatus.NOT_FOUND, client.free(PageId.of(0, 1), 1).join());
        assertTrue(node.stats().full() >= 2);
    }

    @Test
    void manyPagesInFlightStayIntact() {
        int n = 600;
        List<CompletableFuture<RemoteStatus>> puts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long pid = PageId.of(1, i);
            puts.add(client.put(pid, 1, i + 1, page(arena, 0, pid, i + 1)));
        }
        puts.forEach(f -> assertEquals(RemoteStatus.OK, f.join()));
        List<CompletableFuture<PageRead>> gets = new ArrayList<>();
        List<MemorySegment> dsts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            MemorySegment d = arena.allocate(4096);
            dsts.add(d);
            gets.add(client.get(PageId.of(1, i), 0, d));
        }
        for (int i = 0; i < n; i++) {
            assertEquals(i + 1, gets.get(i).join().lsn());
            assertTrue(matches(dsts.get(i), PageId.of(1, i), i + 1), "page " + i);
        }
    }

    @Test
    void concurrentWritersAndReadersNeverSeeTornPages() throws Exception {
        long pid = PageId.of(4, 4);
        client.put(pid, 1, 1, page(arena, 0, pid, 1)).join();
        var stop = new java.util.concurrent.atomic.AtomicBoolean();
        var failures = new java.util.concurrent.atomic.AtomicInteger();
        Thread writer = Thread.ofPlatform().start(() -> {
            try (Arena a = Arena.ofShared()) {
                for (long lsn = 2; lsn < 2000; lsn++) {
                    client.put(pid, 1, lsn, page(a, 0, pid, lsn)).join();
                }
            }
            stop.set(true);
        });
        Thread reader = Thread.ofPlatform().start(() -> {
            try (Arena a = Arena.ofShared()) {
                MemorySegment dst = a.allocate(4096);
                long last = 0;
                while (!stop.get()) {
                    PageRead r = client.get(pid, 0, dst).join();
                    if (!r.found() || r.lsn() < last || !matches(dst, pid, r.lsn())) {
                        failures.incrementAndGet();
                    }
                    last = r.lsn();
                }
            }
        });
        writer.join();
        reader.join();
        assertEquals(0, failures.get());
    }
}
