package dev.strata.nbd.backend;

import dev.strata.nbd.Backend;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A regular file of fixed size; positional reads and writes, {@code fsync} on sync. Created sparse
 * (extended to {@code size}) if shorter.
 */
public final class FileBackend implements Backend {
    private final FileChannel channel;
    private final long size;
    private volatile boolean closed;

    public FileBackend(Path path, long size, boolean readOnly) throws IOException {
        this.channel = readOnly ? FileChannel.open(path, StandardOpenOption.READ)
                : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE, StandardOpenOption.CREATE);
        long current = channel.size();
        if (size <= 0) {
            size = current;
        } else if (current < size && !readOnly) {
            channel.write(ByteBuffer.allocate(1), size - 1);
        }
        this.size = size;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void readAt(long offset, MemorySegment dst) throws IOException {
        ByteBuffer b = dst.asByteBuffer();
        while (b.hasRemaining()) {
            int n = channel.read(b, offset + b.position());
            if (n < 0) {
                while (b.hasRemaining()) {
                    b.put((byte) 0);
                }
            }
        }
    }

    @Override
    public void writeAt(long offset, MemorySegment src) throws IOException {
        ByteBuffer b = src.asByteBuffer();
        while (b.hasRemaining()) {
            channel.write(b, offset + b.position());
        }
    }

    /** Trim writes zeros (no hole punching through FileChannel); the range then reads as zeros. */
    @Override
    public boolean trim(long offset, long length) throws IOException {
        return zero(offset, length, false);
    }

    @Override
    public void sync() throws IOException {
        channel.force(false);
    }

    @Override
    public void close() throws IOException {
        if (!closed) {
            closed = true;
            channel.close();
        }
    }
}
