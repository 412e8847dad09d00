package dev.strata.memory;

import static dev.strata.memory.PageMemoryContract.fill;
import static dev.strata.memory.PageMemoryContract.matches;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.buffer.BufferPool;
import dev.strata.buffer.BufferPoolConfig;
import dev.strata.buffer.PageWrite;
import dev.strata.core.PageId;
import dev.strata.core.PageSize;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The buffer pool over a {@link RemoteTier} (TCP memory node in front of a heap "lower tier"). */
class RemoteTierTest {
    private static final long POOL = 4L << 20;
    private static final long SPACE = 64L << 20;
    private static final int PAGES = 4096; // 16 MiB of data, pool 1/4 of it

    private MemoryNode node;
    private MapPageSource below;
    private RemoteTier tier;

    @BeforeEach
    void start() throws Exception {
        node = MemoryNode.start(MemoryNodeConfig.defaults().withPort(0).withCapacity(64L << 20).withIoThreads(1));
        below = new MapPageSource();
        tier = RemoteTiers.overTcp(below, List.of(new InetSocketAddress("127.0.0.1", node.port())), 2, 5, () -> 1,
                ClientOptions.defaults().withRequestTimeout(Duration.ofSeconds(10)), RemoteTierOptions.defaults());
    }

    @AfterEach
    void stop() throws Exception {
        tier.close();
        node.close();
    }

    private static void writeAll(BufferPool pool, int pages) {
        for (long p = 0; p < pages; p++) {
            try (var g = pool.fixExclusive(p)) {
                fill(g.segment(), p, 1);
            }
            pool.markDirty(p);
        }
    }

    @Test
    void evictedPagesComeBackFromTheMemoryNode() {
        try (BufferPool pool = BufferPool.create(BufferPoolConfig.of(POOL, SPACE), tier)) {
            writeAll(pool, PAGES);
            pool.writeBackDirty();
            long belowReads = below.reads.get();
            Random rnd = new Random(1);
            for (int i = 0; i < 5000; i++) {
                long p = rnd.nextInt(PAGES);
                try (var g = pool.fixShared(p)) {
                    assertTrue(matches(g.segment(), p, 1), "page " + p);
                }
            }
            assertEquals(belowReads, below.reads.get(), "every miss was served by the memory node");
            assertTrue(tier.stats().memoryHits() > 1000);
            assertEquals(PAGES, node.stats().pages());
        }
    }

    @Test
    void lowerTierMissesAreInstalledInMemory() throws Exception {
        try (Arena a = Arena.ofShared()) {
            MemorySegment img = a.allocate(PageSize.BASE);
            for (long p = 0; p < 50; p++) {
                fill(img, p, 4);
                below.write(List.of(new PageWrite(p, 0, 4, img)));
            }
            MemorySegment dst = a.allocate(PageSize.BASE);
            for (long p = 0; p < 50; p++) {
                assertEquals(4, tier.read(p, 0, dst));
            }
            Conditions.await(Duration.ofSeconds(10), "installs", () -> node.stats().pages() == 50);
            long before = below.reads.get();
            for (long p = 0; p < 50; p++) {
                assertEquals(4, tier.read(p, 0, dst));
                assertTrue(matches(dst, p, 4));
            }
            assertEquals(before, below.reads.get());
        }
    }

    @Test
    void sequentialMissesArePrefetchedInBatches() throws Exception {
        try (Arena a = Arena.ofShared()) {
            MemorySegment img = a.allocate(PageSize.BASE);
            for (long p = 0; p < 1000; p++) {
                fill(img, p, 2);
                tier.write(List.of(new PageWrite(p, 0, 2, img)));
            }
            MemorySegment dst = a.allocate(PageSize.BASE);
            for (long p = 0; p < 1000; p++) {
                assertEquals(2, tier.read(p, 0, dst));
                assertTrue(matches(dst, p, 2), "page " + p);
            }
            RemoteTierStats st = tier.stats();
            assertTrue(st.prefetchHits() > 500, "prefetch served most of a sequential scan: " + st);
        }
    }

    @Test
    void aWriteBackNeverLeavesAStalePrefetchedCopy() throws Exception {
        try (Arena a = Arena.ofShared()) {
            MemorySegment img = a.allocate(PageSize.BASE);
            for (long p = 0; p < 64; p++) {
                fill(img, p, 1);
                tier.write(List.of(new PageWrite(p, 0, 1, img)));
            }
            tier.prefetch(0, 64, 0);
            Conditions.await(Duration.ofSeconds(10), "prefetch", () -> tier.stats().prefetched() == 64);
            for (long p = 0; p < 64; p++) {
                fill(img, p, 2);
                tier.write(List.of(new PageWrite(p, 0, 2, img)));
            }
            MemorySegment dst = a.allocate(PageSize.BASE);
            for (long p = 0; p < 64; p++) {
                assertEquals(2, tier.read(p, 0, dst), "page " + p);
                assertTrue(matches(dst, p, 2));
            }
        }
    }

    @Test
    void aDeadMemoryNodeOnlyCostsLowerTierReads() throws Exception {
        try (Arena a = Arena.ofShared()) {
            MemorySegment img = a.allocate(PageSize.BASE);
            for (long p = 0; p < 20; p++) {
                fill(img, p, 3);
                tier.write(List.of(new PageWrite(p, 0, 3, img)));
            }
            node.close();
            MemorySegment dst = a.allocate(PageSize.BASE);
            for (long p = 0; p < 20; p++) {
                assertEquals(3, tier.read(p, 0, dst));
                assertTrue(matches(dst, p, 3));
                fill(img, p, 4);
                tier.write(List.of(new PageWrite(p, 0, 4, img)));
            }
            assertTrue(tier.stats().memoryFailures() > 0);
            assertEquals(PageId.of(5, 0) >>> PageId.PAGE_BITS, 5);
        }
    }
}
