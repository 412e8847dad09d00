package dev.strata.index;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.function.ToDoubleFunction;

/**
 * Exposes an {@link Index}'s {@link IndexStats} as Micrometer counters, tagged with the index's name.
 * The counters read the index's counts when scraped, so binding costs nothing on the write path. With
 * {@link dev.strata.compute.StoreMetrics} on its store, the pool's misses per merge say how many of the
 * merges had to read their node from storage.
 *
 * <pre>
 * strata.index.batches, strata.index.direct.batches, strata.index.messages
 * strata.index.merges           {kind=leaf|buffer}   merges of messages into a node
 * strata.index.merge.messages   {kind=leaf|buffer}   messages those merges carried
 * strata.index.inplace.merges                        merges made in the node's page, not decoded
 * strata.index.splits           {kind=leaf|internal}
 * strata.index.leaf.joins                            underfull leaves joined with a neighbour
 * </pre>
 */
public final class IndexMetrics {
    private IndexMetrics() {}

    public static void bind(Index idx, MeterRegistry registry) {
        Tags tags = Tags.of("index", idx.name());
        counter(registry, "strata.index.batches", idx, IndexStats::batches, tags);
        counter(registry, "strata.index.direct.batches", idx, IndexStats::directBatches, tags);
        counter(registry, "strata.index.messages", idx, IndexStats::messages, tags);
        counter(registry, "strata.index.merges", idx, IndexStats::leafMerges, tags.and("kind", "leaf"));
        counter(registry, "strata.index.merges", idx, IndexStats::bufferMerges, tags.and("kind", "buffer"));
        counter(registry, "strata.index.merge.messages", idx, IndexStats::leafMergeMessages, tags.and("kind", "leaf"));
        counter(registry, "strata.index.merge.messages", idx, IndexStats::bufferMergeMessages,
                tags.and("kind", "buffer"));
        counter(registry, "strata.index.inplace.merges", idx, IndexStats::inPlaceMerges, tags);
        counter(registry, "strata.index.splits", idx, IndexStats::leafSplits, tags.and("kind", "leaf"));
        counter(registry, "strata.index.splits", idx, IndexStats::internalSplits, tags.and("kind", "internal"));
        counter(registry, "strata.index.leaf.joins", idx, IndexStats::leafJoins, tags);
    }

    private static void counter(MeterRegistry r, String name, Index idx, ToDoubleFunction<IndexStats> f, Tags tags) {
        FunctionCounter.builder(name, idx, i -> f.applyAsDouble(i.stats())).tags(tags).register(r);
    }
}
