package dev.strata.memory;

import static dev.strata.memory.PageMemoryContract.matches;
import static dev.strata.memory.PageMemoryContract.page;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.core.PageId;
import dev.strata.core.remote.RemoteStatus;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** k-way replication over TCP with nodes in this JVM: placement, fallback, refill, missed writes. */
class ReplicationTest {
    private final List<MemoryNode> nodes = new ArrayList<>();
    private final Arena arena = Arena.ofShared();
    private ReplicatedPageMemory memory;

    private static final ClientOptions FAST = ClientOptions.defaults().withRequestTimeout(Duration.ofSeconds(2))
            .withReconnectBackoff(Duration.ofMillis(20));

    private MemoryNode startNode(int port) throws InterruptedException {
        return MemoryNode.start(MemoryNodeConfig.defaults().withPort(port).withCapacity(32L << 20).withIoThreads(1));
    }

    private List<MemoryNodeClient> cluster(int n) throws InterruptedException {
        List<MemoryNodeClient> clients = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            MemoryNode node = startNode(0);
            nodes.add(node);
            clients.add(MemoryNodeClient.connect(new InetSocketAddress("127.0.0.1", node.port()), FAST));
        }
        return clients;
    }

    @AfterEach
    void stop() {
        if (memory != null) {
            memory.close();
        }
        nodes.forEach(MemoryNode::close);
        arena.close();
    }

    @Test
    void eachPageLandsOnExactlyKReplicas() throws Exception {
        memory = new ReplicatedPageMemory(cluster(3), 2, true);
        for (int i = 0; i < 300; i++) {
            long pid = PageId.of(1, i);
            assertEquals(RemoteStatus.OK, memory.put(pid, 1, 1, page(arena, 0, pid, 1)).join());
        }
        long total = 0;
        for (MemoryNode n : nodes) {
            long held = n.stats().pages();
            assertTrue(held > 100 && held < 300, "placement spread: " + held);
            total += held;
        }
        assertEquals(600, total);
    }

    @Test
    void readsFallBackWhenAReplicaIsGone() throws Exception {
        memory = new ReplicatedPageMemory(cluster(3), 2, true);
        for (int i = 0; i < 200; i++) {
            long pid = PageId.of(1, i);
            memory.put(pid, 1, 7, page(arena, 0, pid, 7)).join();
        }
        nodes.get(0).close();
        MemorySegment dst = arena.allocate(4096);
        for (int i = 0; i < 200; i++) {
            long pid = PageId.of(1, i);
            PageRead r = memory.get(pid, 0, dst).join();
            assertEquals(7, r.lsn(), "page " + i);
            assertTrue(matches(dst, pid, 7));
        }
        for (int i = 0; i < 200; i++) {
            long pid = PageId.of(1, i);
            assertEquals(RemoteStatus.OK, memory.put(pid, 1, 8, page(arena, 0, pid, 8)).join(), "one replica suffices");
        }
        assertTrue(memory.missedWrites() > 0);
    }

    @Test
    void aNodeThatComesBackEmptyIsRefilled() throws Exception {
        memory = new ReplicatedPageMemory(cluster(2), 2, true);
        for (int i = 0; i < 100; i++) {
            long pid = PageId.of(1, i);
            memory.put(pid, 1, 3, page(arena, 0, pid, 3)).join();
        }
        int port = nodes.get(0).port();
        nodes.get(0).close();
        nodes.set(0, startNode(port));
        Conditions.await(Duration.ofSeconds(10), "reconnect", () -> memory.nodes().get(0).isAvailable());
        MemorySegment dst = arena.allocate(4096);
        for (int i = 0; i < 100; i++) {
            long pid = PageId.of(1, i);
            assertEquals(3, memory.get(pid, 0, dst).join().lsn());
            assertTrue(matches(dst, pid, 3));
        }
        // pages whose read went to the empty node first saw NOT_FOUND there and were refilled
        assertTrue(memory.refills() > 0);
        Conditions.await(Duration.ofSeconds(10), "refill", () -> nodes.get(0).stats().pages() == memory.refills());
        nodes.get(1).close();
        int served = 0;
        for (int i = 0; i < 100; i++) {
            long pid = PageId.of(1, i);
            PageRead r = memory.get(pid, 0, dst).join();
            if (r.found()) {
                served++;
                assertEquals(3, r.lsn());
                assertTrue(matches(dst, pid, 3));
            }
        }
        assertEquals(memory.refills(), served, "refilled pages are served by the node that came back; the rest miss");
    }

    @Test
    void aReplicaThatMissedAWriteIsNotReadUntilAWriteReachesIt() throws Exception {
        List<MemoryNodeClient> clients = cluster(2);
        FaultyClient flaky = new FaultyClient(clients.get(0));
        memory = new ReplicatedPageMemory(List.of(flaky, clients.get(1)), 2, true);
        long pid = PageId.of(2, 5);
        memory.put(pid, 1, 1, page(arena, 0, pid, 1)).join();
        flaky.failPuts = true;
        assertEquals(RemoteStatus.OK, memory.put(pid, 1, 2, page(arena, 0, pid, 2)).join());
        nodes.get(1).close(); // now only the replica holding the stale copy (lsn 1) is up
        MemorySegment dst = arena.allocate(4096);
        assertEquals(PageRead.NOT_FOUND, memory.get(pid, 0, dst).join(), "a stale copy is never served");
        flaky.failPuts = false;
        assertEquals(RemoteStatus.OK, memory.put(pid, 1, 3, page(arena, 0, pid, 3)).join());
        assertEquals(3, memory.get(pid, 0, dst).join().lsn());
        assertTrue(matches(dst, pid, 3));
    }

    @Test
    void repairCopiesMissedPagesFromTheOtherReplica() throws Exception {
        List<MemoryNodeClient> clients = cluster(2);
        FaultyClient flaky = new FaultyClient(clients.get(0));
        memory = new ReplicatedPageMemory(List.of(flaky, clients.get(1)), 2, true);
        for (int i = 0; i < 50; i++) {
            long pid = PageId.of(3, i);
            memory.put(pid, 1, 1, page(arena, 0, pid, 1)).join();
        }
        flaky.failPuts = true;
        for (int i = 0; i < 50; i++) {
            long pid = PageId.of(3, i);
            memory.put(pid, 1, 2, page(arena, 0, pid, 2)).join();
        }
        assertEquals(50, memory.missedPages());
        flaky.failPuts = false;
        assertEquals(50, memory.repair());
        assertEquals(0, memory.missedPages());
        nodes.get(1).close(); // only the repaired replica is left
        MemorySegment dst = arena.allocate(4096);
        for (int i = 0; i < 50; i++) {
            long pid = PageId.of(3, i);
            assertEquals(2, memory.get(pid, 0, dst).join().lsn(), "page " + i);
            assertTrue(matches(dst, pid, 2));
        }
    }

    @Test
    void fencingReachesEveryNode() throws Exception {
        memory = new ReplicatedPageMemory(cluster(3), 2, true);
        assertEquals(4L, memory.fence(6, 4).join());
        for (MemoryNode n : nodes) {
            try (MemoryNodeClient c = n.localClient()) {
                long pid = PageId.of(6, 1);
                assertEquals(RemoteStatus.STALE_EPOCH, c.put(pid, 3, 1, page(arena, 0, pid, 1)).join());
            }
        }
        long pid = PageId.of(6, 2);
        assertEquals(RemoteStatus.STALE_EPOCH, memory.put(pid, 3, 1, page(arena, 0, pid, 1)).join());
        assertEquals(RemoteStatus.OK, memory.put(pid, 4, 1, page(arena, 0, pid, 1)).join());
    }
}
