package dev.strata.memory;

import dev.strata.buffer.PageSource;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * Wiring helpers for the owner of a buffer pool (the embedded {@code PageStore}, the compute node):
 * put memory nodes in front of an existing tier in one call.
 *
 * <pre>{@code
 * PageSource tier = new FileTier(pageFile);
 * if (!memoryNodes.isEmpty()) {
 *     tier = RemoteTiers.overTcp(tier, memoryNodes, 2, partition, () -> epoch);
 * }
 * BufferPool pool = BufferPool.create(poolConfig, tier);
 * }</pre>
 */
public final class RemoteTiers {
    private RemoteTiers() {}

    /**
     * Connects to {@code nodes} over TCP, replicating each page on {@code min(replicas, nodes)} of
     * them, in front of {@code below}. Closing the returned tier closes the connections and {@code below}.
     */
    public static RemoteTier overTcp(PageSource below, List<InetSocketAddress> nodes, int replicas, int partition,
            LongSupplier epoch) {
        return overTcp(below, nodes, replicas, partition, epoch, ClientOptions.defaults(), RemoteTierOptions.defaults());
    }

    public static RemoteTier overTcp(PageSource below, List<InetSocketAddress> nodes, int replicas, int partition,
            LongSupplier epoch, ClientOptions client, RemoteTierOptions tier) {
        ReplicatedPageMemory memory = ReplicatedPageMemory.connect(nodes, Math.min(replicas, nodes.size()), client);
        return new RemoteTier(below, memory, partition, epoch, tier, true);
    }

    /** Parses {@code host:port,host:port} (the form of {@code strata.store.memory-nodes}). */
    public static List<InetSocketAddress> parseAddresses(String list) {
        return java.util.Arrays.stream(list.split(",")).map(String::trim).filter(s -> !s.isEmpty()).map(s -> {
            int c = s.lastIndexOf(':');
            if (c <= 0) {
                throw new IllegalArgumentException("memory node address must be host:port, got '" + s + "'");
            }
            return new InetSocketAddress(s.substring(0, c), Integer.parseInt(s.substring(c + 1)));
        }).toList();
    }
}
