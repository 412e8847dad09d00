package dev.strata.memory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.strata.core.remote.RemoteMemory;
import dev.strata.core.remote.RemoteMemoryException;
import dev.strata.core.remote.RemoteOp;
import dev.strata.core.remote.RemoteRegion;
import dev.strata.core.remote.RemoteStatus;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Behaviour of every {@link RemoteMemory} transport; subclasses supply the transport. */
abstract class RemoteMemoryContract {
    protected MemoryNode node;
    protected RemoteMemory remote;
    protected Arena arena;

    /** A client of {@code node} over the transport under test. */
    protected abstract RemoteMemory connect(MemoryNode node) throws Exception;

    @BeforeEach
    void start() throws Exception {
        node = MemoryNode.start(MemoryNodeConfig.defaults().withPort(0).withCapacity(64L << 20).withIoThreads(1));
        remote = connect(node);
        arena = Arena.ofShared();
    }

    @AfterEach
    void stop() {
        remote.close();
        node.close();
        arena.close();
    }

    static RemoteStatus statusOf(CompletableFuture<?> f) {
        try {
            f.join();
            return RemoteStatus.OK;
        } catch (CompletionException e) {
            return RemoteMemoryException.statusOf(e);
        }
    }

    private MemorySegment pattern(int len, int seed) {
        MemorySegment s = arena.allocate(len);
        for (int i = 0; i < len; i++) {
            s.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 31 + seed));
        }
        return s;
    }

    @Test
    void writeThenReadRoundTrips() {
        RemoteRegion r = remote.allocateRegion(1 << 20).join();
        MemorySegment src = pattern(8192, 7);
        remote.write(r.key(), 4096, src).join();
        MemorySegment dst = arena.allocate(8192);
        remote.read(r.key(), 4096, dst).join();
        assertArrayEquals(src.toArray(ValueLayout.JAVA_BYTE), dst.toArray(ValueLayout.JAVA_BYTE));
    }

    @Test
    void freshRegionReadsZeros() {
        RemoteRegion r = remote.allocateRegion(65536).join();
        MemorySegment dst = pattern(4096, 1);
        remote.read(r.key(), 65536 - 4096, dst).join();
        assertEquals(-1, dst.mismatch(arena.allocate(4096)));
    }

    @Test
    void outOfRangeAccessIsRejected() {
        RemoteRegion r = remote.allocateRegion(8192).join();
        MemorySegment buf = arena.allocate(4096);
        assertEquals(RemoteStatus.OUT_OF_RANGE, statusOf(remote.read(r.key(), 8192 - 4095, buf)));
        assertEquals(RemoteStatus.OUT_OF_RANGE, statusOf(remote.write(r.key(), -1, buf)));
        assertEquals(RemoteStatus.OUT_OF_RANGE, statusOf(remote.read(r.key(), Long.MAX_VALUE - 10, buf)));
        assertEquals(RemoteStatus.OK, statusOf(remote.read(r.key(), 4096, buf)));
    }

    @Test
    void unknownAndFreedKeysAreRejected() {
        RemoteRegion r = remote.allocateRegion(8192).join();
        MemorySegment buf = arena.allocate(64);
        assertEquals(RemoteStatus.BAD_KEY, statusOf(remote.read(r.key() ^ 0x5a5a, 0, buf)));
        remote.freeRegion(r.key()).join();
        assertEquals(RemoteStatus.BAD_KEY, statusOf(remote.write(r.key(), 0, buf)));
        assertEquals(RemoteStatus.BAD_KEY, statusOf(remote.freeRegion(r.key())));
    }

    @Test
    void compareAndSwapSwapsOnlyOnMatchAndReturnsPrevious() {
        RemoteRegion r = remote.allocateRegion(4096).join();
        assertEquals(0L, remote.compareAndSwap(r.key(), 8, 0, 42).join());
        assertEquals(42L, remote.compareAndSwap(r.key(), 8, 0, 99).join());
        assertEquals(42L, remote.compareAndSwap(r.key(), 8, 42, 7).join());
        MemorySegment word = arena.allocate(8);
        remote.read(r.key(), 8, word).join();
        assertEquals(7L, word.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0));
        assertEquals(RemoteStatus.MISALIGNED, statusOf(remote.compareAndSwap(r.key(), 12, 0, 1)));
        assertEquals(RemoteStatus.OUT_OF_RANGE, statusOf(remote.compareAndSwap(r.key(), 4096, 0, 1)));
    }

    @Test
    void concurrentCompareAndSwapCountsExactly() throws Exception {
        RemoteRegion r = remote.allocateRegion(4096).join();
        int threads = 4, each = 200;
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            ts.add(Thread.ofPlatform().start(() -> {
                for (int i = 0; i < each; i++) {
                    long cur = 0;
                    while (true) {
                        long prev = remote.compareAndSwap(r.key(), 0, cur, cur + 1).join();
                        if (prev == cur) {
                            break;
                        }
                        cur = prev;
                    }
                }
            }));
        }
        for (Thread t : ts) {
            t.join();
        }
        assertEquals((long) threads * each, remote.compareAndSwap(r.key(), 0, -1, -1).join());
    }

    @Test
    void batchesWithManyInFlightComplete() {
        RemoteRegion r = remote.allocateRegion(4L << 20).join();
        int n = 512;
        List<RemoteOp> writes = new ArrayList<>(), reads = new ArrayList<>();
        List<MemorySegment> dsts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            writes.add(new RemoteOp(r.key(), i * 8192L, pattern(8192, i)));
            MemorySegment d = arena.allocate(8192);
            dsts.add(d);
            reads.add(new RemoteOp(r.key(), i * 8192L, d));
        }
        remote.writeBatch(writes).join();
        remote.readBatch(reads).join();
        for (int i = 0; i < n; i++) {
            assertEquals(-1, dsts.get(i).mismatch(writes.get(i).local()), "op " + i);
        }
    }

    @Test
    void regionsBeyondCapacityAreFull() {
        assertEquals(RemoteStatus.FULL, statusOf(remote.allocateRegion(65L << 20)));
        RemoteRegion a = remote.allocateRegion(48L << 20).join();
        assertEquals(RemoteStatus.FULL, statusOf(remote.allocateRegion(17L << 20)));
        remote.freeRegion(a.key()).join();
        remote.allocateRegion(17L << 20).join();
    }

    @Test
    void transfersAboveTheLimitAreRefused() {
        RemoteRegion r = remote.allocateRegion(8L << 20).join();
        MemorySegment big = arena.allocate(RemoteMemory.MAX_TRANSFER + 1L);
        assertEquals(RemoteStatus.TOO_LARGE, statusOf(remote.read(r.key(), 0, big)));
        assertEquals(RemoteStatus.TOO_LARGE, statusOf(remote.write(r.key(), 0, big)));
        assertEquals(RemoteStatus.OUT_OF_RANGE, statusOf(remote.allocateRegion(0)));
    }
}
