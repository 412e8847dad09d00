package dev.strata.memory;

import static dev.strata.memory.PageMemoryContract.fill;
import static dev.strata.memory.PageMemoryContract.matches;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.buffer.PageWrite;
import dev.strata.core.PageSize;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAccumulator;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Memory nodes as child JVMs, killed with SIGKILL by PID during a read/write load through a
 * {@link RemoteTier} (k=2 of 3 nodes): the load sees no error, only latency, and every read returns
 * exactly the last page image written (never stale, never torn).
 */
@Tag("slow")
class FailoverProcessTest {
    private static final int THREADS = 4;
    private static final int PAGES_PER_THREAD = 300;

    @Test
    void killingNodesDuringLoadCostsLatencyNotErrorsOrStaleReads() throws Exception {
        killNodesDuringLoad(false);
    }

    @Test
    void killingNodesDuringLoadWithCallerRunsIo() throws Exception {
        killNodesDuringLoad(true);
    }

    private void killNodesDuringLoad(boolean callerRunsIo) throws Exception {
        List<NodeProcess> procs = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                procs.add(NodeProcess.start(0, "64M"));
            }
            List<InetSocketAddress> addrs = procs.stream().map(p -> new InetSocketAddress("127.0.0.1", p.port())).toList();
            ClientOptions opts = ClientOptions.defaults().withRequestTimeout(Duration.ofMillis(400))
                    .withReconnectBackoff(Duration.ofMillis(50)).withCallerRunsIo(callerRunsIo);
            MapPageSource below = new MapPageSource();
            ReplicatedPageMemory memory = ReplicatedPageMemory.connect(addrs, 2, opts);
            try (RemoteTier tier = new RemoteTier(below, memory, 1, () -> 1, RemoteTierOptions.defaults().withoutPrefetch(), true)) {
                AtomicBoolean stop = new AtomicBoolean();
                ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
                AtomicLong ops = new AtomicLong();
                LongAccumulator maxLatency = new LongAccumulator(Math::max, 0);
                List<Thread> load = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    int id = t;
                    load.add(Thread.ofPlatform().name("load-" + t).start(() -> {
                        try {
                            run(tier, id, stop, ops, maxLatency);
                        } catch (Throwable e) {
                            errors.add(e);
                        }
                    }));
                }
                awaitOps(ops, 4000, errors);
                procs.get(0).kill9();                       // a replica dies mid-load
                awaitOps(ops, 4000, errors);
                int port0 = procs.get(0).port();
                procs.set(0, NodeProcess.start(port0, "64M")); // it comes back empty on its port
                Conditions.await(Duration.ofSeconds(15), "reconnect", () -> memory.nodes().get(0).isAvailable());
                int repaired = memory.repair();               // re-replicate what it missed, under load
                awaitOps(ops, 4000, errors);
                procs.get(1).kill9();                       // another one dies
                awaitOps(ops, 4000, errors);
                stop.set(true);
                for (Thread t : load) {
                    t.join(30_000);
                }
                assertTrue(errors.isEmpty(), () -> "load saw errors: " + errors);
                RemoteTierStats st = tier.stats();
                System.out.printf("failover (caller-runs " + callerRunsIo + "): %d ops, max latency %.1f ms, %s, fallbacks %d, refills %d, missed writes %d, repaired %d%n",
                        ops.get(), maxLatency.get() / 1e6, st, memory.fallbacks(), memory.refills(), memory.missedWrites(), repaired);
                assertTrue(st.memoryHits() > 0, "memory nodes served reads");
                assertTrue(memory.missedWrites() > 0, "writes to the killed nodes were noticed");
                assertTrue(repaired > 0, "the node that came back was re-replicated");
            }
        } finally {
            for (NodeProcess p : procs) {
                p.close();
            }
        }
    }

    private static void awaitOps(AtomicLong ops, long more, ConcurrentLinkedQueue<Throwable> errors) throws InterruptedException {
        long target = ops.get() + more;
        Conditions.await(Duration.ofSeconds(60), "load progress", () -> ops.get() >= target || !errors.isEmpty());
        assertTrue(errors.isEmpty(), () -> "load saw errors: " + errors);
    }

    /** Each thread owns its pages (as a latched page in the pool): writes a new image, or reads and checks the last. */
    private static void run(RemoteTier tier, int id, AtomicBoolean stop, AtomicLong ops, LongAccumulator maxLatency)
            throws Exception {
        Random rnd = new Random(id);
        long[] last = new long[PAGES_PER_THREAD];
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(PageSize.BASE);
            while (!stop.get()) {
                int i = rnd.nextInt(PAGES_PER_THREAD);
                long pageNo = (long) id * PAGES_PER_THREAD + i;
                long t0 = System.nanoTime();
                if (last[i] == 0 || rnd.nextInt(3) == 0) {
                    long lsn = last[i] + 1;
                    fill(buf, pageNo, lsn);
                    tier.write(List.of(new PageWrite(pageNo, 0, lsn, buf)));
                    last[i] = lsn;
                } else {
                    buf.fill((byte) 0x5a);
                    long lsn = tier.read(pageNo, 0, buf);
                    assertEquals(last[i], lsn, "page " + pageNo + " read back stale");
                    assertTrue(matches(buf, pageNo, lsn), "page " + pageNo + " torn or wrong");
                }
                maxLatency.accumulate(System.nanoTime() - t0);
                ops.incrementAndGet();
            }
        }
    }
}
