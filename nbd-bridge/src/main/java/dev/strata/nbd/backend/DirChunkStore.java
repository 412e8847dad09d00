package dev.strata.nbd.backend;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A directory of chunk files named {@code chunk-<16 hex digits>}; a missing file reads as zeros.
 * Writes go to the file directly; {@link #sync} fsyncs the files written since the last sync and
 * the directory.
 */
public final class DirChunkStore implements ChunkStore {
    private final Path dir;
    private final int chunkSize;
    private final long chunks;
    private final Set<Long> unsynced = ConcurrentHashMap.newKeySet();

    public DirChunkStore(Path dir, int chunkSize, long chunks) throws IOException {
        this.dir = Files.createDirectories(dir);
        this.chunkSize = chunkSize;
        this.chunks = chunks;
    }

    private Path file(long chunk) {
        return dir.resolve(String.format("chunk-%016x", chunk));
    }

    @Override
    public int chunkSize() {
        return chunkSize;
    }

    @Override
    public long chunks() {
        return chunks;
    }

    @Override
    public void read(long first, int count, MemorySegment dst) throws IOException {
        for (int i = 0; i < count; i++) {
            MemorySegment part = dst.asSlice((long) i * chunkSize, chunkSize);
            try (FileChannel ch = FileChannel.open(file(first + i), StandardOpenOption.READ)) {
                ByteBuffer b = part.asByteBuffer();
                while (b.hasRemaining() && ch.read(b) >= 0) {
                    // keep reading
                }
                while (b.hasRemaining()) {
                    b.put((byte) 0);
                }
            } catch (NoSuchFileException e) {
                part.fill((byte) 0);
            }
        }
    }

    @Override
    public void write(long first, int count, MemorySegment src) throws IOException {
        for (int i = 0; i < count; i++) {
            try (FileChannel ch = FileChannel.open(file(first + i), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE)) {
                ByteBuffer b = src.asSlice((long) i * chunkSize, chunkSize).asByteBuffer();
                while (b.hasRemaining()) {
                    ch.write(b, b.position());
                }
            }
            unsynced.add(first + i);
        }
    }

    @Override
    public void delete(long first, int count) throws IOException {
        for (int i = 0; i < count; i++) {
            Files.deleteIfExists(file(first + i));
            unsynced.remove(first + i);
        }
    }

    @Override
    public void sync() throws IOException {
        for (Long c : unsynced.toArray(Long[]::new)) {
            unsynced.remove(c);
            try (FileChannel ch = FileChannel.open(file(c), StandardOpenOption.WRITE)) {
                ch.force(true);
            } catch (NoSuchFileException e) {
                // deleted meanwhile
            }
        }
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }

    @Override
    public void close() {}
}
