package dev.strata.buffer;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Where the buffer pool's misses come from and its dirty pages go: the next tier down (a local page
 * file, a memory node, a storage node). Implementations must be thread-safe: several faulting
 * threads and an evicting thread call concurrently.
 */
public interface PageSource extends AutoCloseable {
    /**
     * Fills {@code dst} (exactly one page of {@code sizeClass}) with the page's bytes.
     *
     * @return the page's LSN, 0 for a page never written (then {@code dst} must be zeros)
     */
    long read(long pageNo, int sizeClass, MemorySegment dst) throws IOException;

    /**
     * Writes a batch of page images; each page lands atomically. The batch is durable in this tier by
     * the next {@link #sync} (a tier may make it durable at once; readers see it at once either way).
     * The segments are valid only during the call.
     */
    void write(List<PageWrite> pages) throws IOException;

    /**
     * Makes every batch {@link #write} returned from so far durable in this tier (a checkpoint calls it
     * before letting the log go). The default does nothing, for tiers whose writes are durable on return.
     */
    default void sync() throws IOException {}

    /**
     * A hint that the page will be {@link #read} soon: a tier may start fetching it without waiting.
     * Never blocks on I/O and never fails; the default does nothing.
     */
    default void prefetch(long pageNo, int sizeClass) {}

    @Override
    default void close() throws IOException {}
}
