package dev.strata.memory;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.function.ToDoubleFunction;

/**
 * Publishes memory-node and remote-tier counters to a Micrometer registry (Prometheus or any other),
 * read from the live counters on every scrape: nothing is added to the hot path.
 *
 * <table>
 * <caption>Meters</caption>
 * <tr><th>name</th><th>type</th><th>tags</th></tr>
 * <tr><td>strata.memory.requests</td><td>counter</td><td>node, op = get | hit | put | full | stale-epoch | stale-lsn | corrupt | bad-frame</td></tr>
 * <tr><td>strata.memory.bytes</td><td>counter</td><td>node, direction = in | out</td></tr>
 * <tr><td>strata.memory.pages / .used.bytes / .capacity.bytes</td><td>gauge</td><td>node</td></tr>
 * <tr><td>strata.tier.remote.reads</td><td>counter</td><td>partition, source = memory | prefetch | below</td></tr>
 * <tr><td>strata.tier.remote.events</td><td>counter</td><td>partition, event = install | write-back | memory-failure | prefetched</td></tr>
 * </table>
 */
public final class MemoryNodeMetrics {
    private MemoryNodeMetrics() {}

    /** Registers the node's meters, tagged {@code node=<port>}. */
    public static void bind(MemoryNode node, MeterRegistry registry) {
        Tags tags = Tags.of("node", Integer.toString(node.port()));
        counter(registry, "strata.memory.requests", tags.and("op", "get"), node, n -> n.stats().gets());
        counter(registry, "strata.memory.requests", tags.and("op", "hit"), node, n -> n.stats().hits());
        counter(registry, "strata.memory.requests", tags.and("op", "put"), node, n -> n.stats().puts());
        counter(registry, "strata.memory.requests", tags.and("op", "full"), node, n -> n.stats().full());
        counter(registry, "strata.memory.requests", tags.and("op", "stale-epoch"), node, n -> n.stats().staleEpoch());
        counter(registry, "strata.memory.requests", tags.and("op", "stale-lsn"), node, n -> n.stats().staleLsn());
        counter(registry, "strata.memory.requests", tags.and("op", "corrupt"), node, n -> n.stats().corrupt());
        counter(registry, "strata.memory.requests", tags.and("op", "bad-frame"), node, n -> n.stats().badFrames());
        counter(registry, "strata.memory.bytes", tags.and("direction", "in"), node, n -> n.stats().bytesIn());
        counter(registry, "strata.memory.bytes", tags.and("direction", "out"), node, n -> n.stats().bytesOut());
        Gauge.builder("strata.memory.pages", node, n -> n.stats().pages()).tags(tags).register(registry);
        Gauge.builder("strata.memory.used.bytes", node, n -> n.stats().usedBytes()).tags(tags).register(registry);
        Gauge.builder("strata.memory.capacity.bytes", node, n -> n.stats().capacityBytes()).tags(tags).register(registry);
    }

    /** Registers a remote tier's meters, tagged {@code partition=<n>}. */
    public static void bind(RemoteTier tier, int partition, MeterRegistry registry) {
        Tags tags = Tags.of("partition", Integer.toString(partition));
        counter(registry, "strata.tier.remote.reads", tags.and("source", "memory"), tier, t -> t.stats().memoryHits());
        counter(registry, "strata.tier.remote.reads", tags.and("source", "prefetch"), tier, t -> t.stats().prefetchHits());
        counter(registry, "strata.tier.remote.reads", tags.and("source", "below"), tier, t -> t.stats().belowReads());
        counter(registry, "strata.tier.remote.events", tags.and("event", "install"), tier, t -> t.stats().installs());
        counter(registry, "strata.tier.remote.events", tags.and("event", "write-back"), tier, t -> t.stats().writeBacks());
        counter(registry, "strata.tier.remote.events", tags.and("event", "memory-failure"), tier, t -> t.stats().memoryFailures());
        counter(registry, "strata.tier.remote.events", tags.and("event", "prefetched"), tier, t -> t.stats().prefetched());
    }

    private static <T> void counter(MeterRegistry r, String name, Tags tags, T obj, ToDoubleFunction<T> f) {
        FunctionCounter.builder(name, obj, f).tags(tags).register(r);
    }
}
