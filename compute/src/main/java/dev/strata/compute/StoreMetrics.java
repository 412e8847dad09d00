package dev.strata.compute;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.function.ToDoubleFunction;

/**
 * Exposes a {@link PageStore}'s counters as Micrometer meters (for Prometheus or any registry),
 * tagged with the partition. Meters read the store's counters when scraped: binding costs nothing
 * on the hot path.
 *
 * <pre>
 * strata.pool.hits / misses / evictions / writebacks   counters
 * strata.pool.read.bytes / written.bytes             counters (bytes moved between pool and next tier)
 * strata.pool.resident.bytes / capacity.bytes        gauges
 * strata.pool.dirty.pages                            gauge
 * strata.log.appended.lsn / durable.lsn / checkpoint.lsn   gauges
 * strata.log.fsyncs, strata.store.commits, strata.store.checkpoints   counters
 * strata.store.allocated.pages / free.pages          gauges (pages in use; freed, not yet reused)
 * strata.store.page.space.bytes                      gauge (page space taken, against strata.store.capacity)
 * strata.store.page.image.bytes / stored.bytes       counters (page images written; bytes the file took for them)
 * strata.store.recovery.records / bytes / seconds    gauges (what the redo at open replayed, and how long it took)
 * </pre>
 */
public final class StoreMetrics {
    private StoreMetrics() {}

    public static void bind(PageStore store, MeterRegistry registry) {
        Tags tags = Tags.of("partition", Integer.toString(store.config().partition()));
        counter(registry, "strata.pool.hits", store, s -> s.stats().pool().hits(), tags);
        counter(registry, "strata.pool.misses", store, s -> s.stats().pool().misses(), tags);
        counter(registry, "strata.pool.evictions", store, s -> s.stats().pool().evictions(), tags);
        counter(registry, "strata.pool.writebacks", store, s -> s.stats().pool().writeBacks(), tags);
        counter(registry, "strata.pool.read.bytes", store, s -> s.stats().pool().bytesRead(), tags);
        counter(registry, "strata.pool.written.bytes", store, s -> s.stats().pool().bytesWritten(), tags);
        gauge(registry, "strata.pool.resident.bytes", store, s -> s.stats().pool().residentBytes(), tags);
        gauge(registry, "strata.pool.capacity.bytes", store, s -> s.stats().pool().poolBytes(), tags);
        gauge(registry, "strata.pool.dirty.pages", store, s -> s.stats().pool().dirtyPages(), tags);
        gauge(registry, "strata.log.appended.lsn", store, s -> s.stats().appendedLsn(), tags);
        gauge(registry, "strata.log.durable.lsn", store, s -> s.stats().durableLsn(), tags);
        gauge(registry, "strata.log.checkpoint.lsn", store, s -> s.stats().checkpointLsn(), tags);
        counter(registry, "strata.log.fsyncs", store, s -> s.stats().fsyncs(), tags);
        counter(registry, "strata.store.commits", store, s -> s.stats().commits(), tags);
        counter(registry, "strata.log.bytes", store, s -> s.stats().logBytes(), tags);
        counter(registry, "strata.store.checkpoints", store, s -> s.stats().checkpoints(), tags);
        gauge(registry, "strata.store.allocated.pages", store, s -> s.stats().allocatedPages(), tags);
        gauge(registry, "strata.store.free.pages", store, s -> s.stats().freePages(), tags);
        gauge(registry, "strata.store.page.space.bytes", store, s -> s.stats().pageSpaceBytes(), tags);
        counter(registry, "strata.store.page.image.bytes", store, s -> s.stats().pageImageBytes(), tags);
        counter(registry, "strata.store.page.stored.bytes", store, s -> s.stats().pageStoredBytes(), tags);
        gauge(registry, "strata.store.recovery.records", store, s -> s.recovery().records(), tags);
        gauge(registry, "strata.store.recovery.bytes", store, s -> s.recovery().bytes(), tags);
        gauge(registry, "strata.store.recovery.seconds", store, s -> s.recovery().nanos() / 1e9, tags);
    }

    private static void counter(MeterRegistry r, String name, PageStore store, ToDoubleFunction<PageStore> f,
            Tags tags) {
        FunctionCounter.builder(name, store, s -> s.isOpen() ? f.applyAsDouble(s) : Double.NaN).tags(tags)
                .register(r);
    }

    private static void gauge(MeterRegistry r, String name, PageStore store, ToDoubleFunction<PageStore> f,
            Tags tags) {
        Gauge.builder(name, store, s -> s.isOpen() ? f.applyAsDouble(s) : Double.NaN).tags(tags).register(r);
    }
}
