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
     * Writes a batch of page images; each page lands atomically and the batch is durable in this
     * tier on return. The segments are valid only during the call.
     */
    void write(List<PageWrite> pages) throws IOException;

    /**
     * A hint that the page will be {@link #read} soon: a tier may start fetching it without waiting.
     * Never blocks on I/O and never fails; the default does nothing.
     */
    default void prefetch(long pageNo, int sizeClass) {}

    @Override
    default void close() throws IOException {}
}
