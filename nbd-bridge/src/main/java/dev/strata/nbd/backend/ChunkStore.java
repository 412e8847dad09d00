package dev.strata.nbd.backend;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * Storage addressed in fixed-size chunks (a directory of files, S3 objects, Redis keys). Every call
 * takes a run of consecutive chunks so a store can serve it with one ranged call (Redis MGET/MSET,
 * parallel S3 requests, one pass over files). A chunk never written reads as zeros.
 */
public interface ChunkStore extends AutoCloseable {
    int chunkSize();

    /** Number of chunks in the address space. */
    long chunks();

    /** Reads chunks {@code [first, first+count)} into {@code dst} ({@code count * chunkSize} bytes). */
    void read(long first, int count, MemorySegment dst) throws IOException;

    /** Writes chunks {@code [first, first+count)} from {@code src}. */
    void write(long first, int count, MemorySegment src) throws IOException;

    /** Forgets chunks; they then read as zeros. */
    void delete(long first, int count) throws IOException;

    /** Every write completed before this call is durable when it returns. */
    void sync() throws IOException;

    @Override
    void close() throws IOException;
}
