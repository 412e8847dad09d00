package dev.strata.migration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.nbd.backend.MemoryBackend;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Seeder → leecher migrations of a region that a writer keeps modifying, over loopback and through
 * a proxy that cuts the connection in phase 1, after the suspend and after the fence.
 */
@Timeout(120)
class MigrationTest {
    private static final long SIZE = 32L << 20;
    private static final Duration T = Duration.ofSeconds(60);
    private final java.util.List<AutoCloseable> toClose = new java.util.ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        Exception failure = null;
        for (int i = toClose.size() - 1; i >= 0; i--) {
            try {
                toClose.get(i).close();
            } catch (Exception e) {
                failure = e;
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    private <T extends AutoCloseable> T closing(T c) {
        toClose.add(c);
        return c;
    }

    private static InetSocketAddress loopback(int port) {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    }

    private Seeder seeder(MemoryBackend region, SeederConfig cfg) throws IOException {
        Regions.fillRandom(region, 42);
        return closing(Seeder.start(region, cfg));
    }

    private Leecher leecher(InetSocketAddress addr, LeecherConfig cfg) throws IOException {
        return closing(Leecher.open(addr, cfg));
    }

    /** The seeder's region, frozen after the fence, equals the leecher's; every acknowledged write is there. */
    private static void assertSameRegion(MemoryBackend seederRegion, Leecher l, RegionWriter w) throws Exception {
        assertTrue(l.awaitComplete(T), "post-copy did not finish");
        assertEquals(Regions.crc(seederRegion), Regions.crc(l.backend()), "checksums differ");
        w.verify(l.backend());
    }

    @Test
    void leecherEndsWithTheSeederFinalContentWhileAWriterKeepsWriting() throws Exception {
        MemoryBackend region = closing(new MemoryBackend(SIZE));
        Seeder s = seeder(region, SeederConfig.defaults());
        RegionWriter w = closing(new RegionWriter(s.backend(), 2000, 1));
        Regions.await(() -> w.acked() > 50, T, "first writes");
        Leecher l = leecher(loopback(s.port()), LeecherConfig.defaults().withMaxDowntime(Duration.ofMillis(50)));
        long before = w.acked();
        MigrationReport r = l.migrate();
        w.join(); // ends by itself: fenced
        assertTrue(w.fenced(), "writer was not fenced");
        assertTrue(w.acked() > before, "writer made no progress during phase 1");
        assertTrue(l.serving());
        assertEquals(2, l.epoch());
        assertTrue(s.fenced());
        assertTrue(r.rounds() >= 1, r.toString());
        assertTrue(r.bytesMoved() >= SIZE, r.toString());
        assertSameRegion(region, l, w);
        assertTrue(s.awaitHandedOver(T));
    }

    @Test
    void theOldSeederRefusesWritesReadsAndNewMigrationsAfterFinalize() throws Exception {
        MemoryBackend region = closing(new MemoryBackend(4L << 20));
        Seeder s = seeder(region, SeederConfig.defaults().withEpoch(7));
        Leecher l = leecher(loopback(s.port()), LeecherConfig.defaults());
        l.migrate();
        assertEquals(8, l.epoch());
        MemorySegment page = MemorySegment.ofArray(new byte[4096]);
        FencedException f = assertThrows(FencedException.class, () -> s.backend().writeAt(0, page));
        assertEquals(8, f.epoch());
        assertThrows(FencedException.class, () -> s.backend().readAt(0, page));
        assertThrows(FencedException.class, () -> s.backend().zero(0, 4096, false));
        IOException e = assertThrows(IOException.class, () -> Leecher.open(loopback(s.port()), LeecherConfig.defaults()));
        assertTrue(e.getMessage().contains("handed over"), e.getMessage());
        // the new owner takes writes
        l.backend().writeAt(0, MemorySegment.ofArray(new byte[] {1, 2, 3}));
        MemorySegment back = MemorySegment.ofArray(new byte[3]);
        l.backend().readAt(0, back);
        assertArrayEquals(new byte[] {1, 2, 3}, back.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
    }

    @Test
    void aCutInPhaseOneIsResumedWithNoLostWrite() throws Exception {
        MemoryBackend region = closing(new MemoryBackend(SIZE));
        Seeder s = seeder(region, SeederConfig.defaults().withChunkSize(16 * 1024));
        CuttingProxy proxy = closing(new CuttingProxy(loopback(s.port())));
        RegionWriter w = closing(new RegionWriter(s.backend(), 2000, 2));
        Leecher l = leecher(proxy.address(), LeecherConfig.defaults());
        Thread cutter = Thread.ofPlatform().name("test-cutter").start(() -> {
            Regions.await(() -> l.progress().bytes() > SIZE / 3, T, "a third of round 0");
            proxy.cutAll();
        });
        MigrationReport r = l.migrate();
        cutter.join();
        w.join();
        assertEquals(1, proxy.cuts());
        assertTrue(r.reconnects() >= 1, r.toString());
        assertSameRegion(region, l, w);
    }

    @Test
    void aCutAfterTheSuspendRollsBackAndTheRetriedFinalizeLosesNoWrite() throws Exception {
        MemoryBackend region = closing(new MemoryBackend(SIZE));
        AtomicInteger suspends = new AtomicInteger();
        CuttingProxy[] proxy = new CuttingProxy[1];
        Seeder s = seeder(region, SeederConfig.defaults().withFaults(point -> {
            if (point.equals("finalize.suspended") && suspends.incrementAndGet() == 1) {
                proxy[0].cutAll();
                throw new IOException("injected cut after suspend");
            }
        }));
        proxy[0] = closing(new CuttingProxy(loopback(s.port())));
        RegionWriter w = closing(new RegionWriter(s.backend(), 2000, 3));
        Leecher l = leecher(proxy[0].address(), LeecherConfig.defaults());
        MigrationReport r = l.migrate();
        w.join();
        assertEquals(2, suspends.get(), "finalize was not retried after the rollback");
        assertTrue(r.reconnects() >= 1);
        assertEquals(2, l.epoch());
        assertSameRegion(region, l, w);
    }

    @Test
    void aCutAfterTheFenceResumesTheIdempotentFinalize() throws Exception {
        MemoryBackend region = closing(new MemoryBackend(SIZE));
        AtomicInteger fences = new AtomicInteger();
        CuttingProxy[] proxy = new CuttingProxy[1];
        Seeder s = seeder(region, SeederConfig.defaults().withFaults(point -> {
            if (point.equals("finalize.fenced") && fences.incrementAndGet() == 1) {
                proxy[0].cutAll();
                throw new IOException("injected cut after fence");
            }
        }));
        proxy[0] = closing(new CuttingProxy(loopback(s.port())));
        RegionWriter w = closing(new RegionWriter(s.backend(), 2000, 4));
        Leecher l = leecher(proxy[0].address(), LeecherConfig.defaults());
        MigrationReport r = l.migrate();
        w.join();
        assertEquals(1, fences.get(), "the seeder fenced twice");
        assertTrue(r.reconnects() >= 1);
        assertTrue(s.fenced());
        assertEquals(2, l.epoch());
        assertSameRegion(region, l, w);
    }

    @Test
    void finalizeOnDemandBeforeAnyPullServesByPostCopy() throws Exception {
        MemoryBackend region = closing(new MemoryBackend(SIZE));
        Seeder s = seeder(region, SeederConfig.defaults());
        RegionWriter w = closing(new RegionWriter(s.backend(), 2000, 5));
        Regions.await(() -> w.acked() > 100, T, "first writes");
        Leecher l = leecher(loopback(s.port()), LeecherConfig.defaults());
        l.requestFinalize();
        MigrationReport r = l.migrate();
        w.join();
        assertEquals(0, r.rounds());
        assertTrue(r.postCopyChunks() > 0, r.toString());
        // an on-demand read in the middle, then a write the background pull must not overwrite
        MemorySegment mid = MemorySegment.ofArray(new byte[8192]);
        l.backend().readAt(SIZE / 2 + 100, mid);
        MemorySegment expected = MemorySegment.ofArray(new byte[8192]);
        region.readAt(SIZE / 2 + 100, expected);
        assertEquals(-1, mid.mismatch(expected));
        assertTrue(l.awaitComplete(T));
        assertEquals(Regions.crc(region), Regions.crc(l.backend()));
        w.verify(l.backend());
    }

    @Test
    void aChainAtoBtoCEndsWithAsContentAndFencesEachPredecessor() throws Exception {
        MemoryBackend a = closing(new MemoryBackend(SIZE));
        Seeder sa = seeder(a, SeederConfig.defaults());
        RegionWriter wa = closing(new RegionWriter(sa.backend(), 2000, 6));
        Leecher b = leecher(loopback(sa.port()), LeecherConfig.defaults());
        b.migrate();
        wa.join();
        assertTrue(b.awaitComplete(T));
        Seeder sb = closing(Seeder.start(b.backend(), SeederConfig.defaults().withEpoch(b.epoch())));
        RegionWriter wb = closing(new RegionWriter(sb.backend(), 2000, 7));
        Leecher c = leecher(loopback(sb.port()), LeecherConfig.defaults());
        MigrationReport r = c.migrate();
        wb.join();
        assertEquals(3, c.epoch(), r.toString());
        assertTrue(sa.fenced() && sb.fenced());
        assertThrows(FencedException.class, () -> sb.backend().writeAt(0, MemorySegment.ofArray(new byte[8])));
        assertTrue(c.awaitComplete(T));
        assertEquals(Regions.crc(b.backend()), Regions.crc(c.backend()));
        wb.verify(c.backend());
    }

    @Test
    void aLeecherOfferingOnlyUnknownVersionsIsRefused() throws Exception {
        MemoryBackend region = closing(new MemoryBackend(1L << 20));
        Seeder s = seeder(region, SeederConfig.defaults());
        IOException e = assertThrows(IOException.class,
                () -> Leecher.open(loopback(s.port()), LeecherConfig.defaults().withVersions(2, 3)));
        assertTrue(e.getMessage().contains("version"), e.getMessage());
        // the seeder is unharmed: a proper leecher migrates
        Leecher l = leecher(loopback(s.port()), LeecherConfig.defaults());
        l.migrate();
        assertTrue(l.awaitComplete(T));
        assertEquals(Regions.crc(region), Regions.crc(l.backend()));
    }
}
