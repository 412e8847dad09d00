package dev.strata.nbd.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The chunking layer merges adjacent chunks into one store call and reads missing chunks as zeros. */
@Timeout(30)
class ChunkedBackendTest {
    /** An in-memory store that records every call. */
    static final class RecordingStore implements ChunkStore {
        final byte[] data;
        final boolean[] present;
        final List<String> calls = new ArrayList<>();

        RecordingStore(int chunks) {
            data = new byte[chunks * 4096];
            present = new boolean[chunks];
        }

        public int chunkSize() {
            return 4096;
        }

        public long chunks() {
            return present.length;
        }

        public synchronized void read(long first, int count, MemorySegment dst) {
            calls.add("read " + first + "+" + count);
            for (int i = 0; i < count; i++) {
                MemorySegment part = dst.asSlice(i * 4096L, 4096);
                if (present[(int) first + i]) {
                    MemorySegment.copy(MemorySegment.ofArray(data), (first + i) * 4096, part, 0, 4096);
                } else {
                    part.fill((byte) 0);
                }
            }
        }

        public synchronized void write(long first, int count, MemorySegment src) {
            calls.add("write " + first + "+" + count);
            MemorySegment.copy(src, 0, MemorySegment.ofArray(data), first * 4096, count * 4096L);
            for (int i = 0; i < count; i++) {
                present[(int) first + i] = true;
            }
        }

        public synchronized void delete(long first, int count) {
            calls.add("delete " + first + "+" + count);
            for (int i = 0; i < count; i++) {
                present[(int) first + i] = false;
            }
        }

        public void sync() {}

        public void close() {}
    }

    @Test
    void a128KiBReadOver4KiBChunksIsOneStoreCall() throws IOException {
        RecordingStore store = new RecordingStore(256);
        try (ChunkedBackend b = new ChunkedBackend(store, 256 * 4096L)) {
            b.readAt(8192, MemorySegment.ofArray(new byte[128 * 1024]));
            assertEquals(List.of("read 2+32"), store.calls);
        }
    }

    @Test
    void unalignedWriteReadsOnlyItsPartialEdgesAndWritesOnce() throws IOException {
        RecordingStore store = new RecordingStore(256);
        try (ChunkedBackend b = new ChunkedBackend(store, 256 * 4096L)) {
            byte[] d = new byte[3 * 4096];
            java.util.Arrays.fill(d, (byte) 5);
            b.writeAt(4096 + 100, MemorySegment.ofArray(d));
            assertEquals(List.of("read 1+1", "read 4+1", "write 1+4"), store.calls);
            byte[] back = new byte[d.length];
            b.readAt(4096 + 100, MemorySegment.ofArray(back));
            assertArrayEquals(d, back);
            byte[] edge = new byte[100];
            b.readAt(4096, MemorySegment.ofArray(edge));
            assertArrayEquals(new byte[100], edge);
        }
    }

    @Test
    void trimOfWholeChunksDeletesThem() throws IOException {
        RecordingStore store = new RecordingStore(256);
        try (ChunkedBackend b = new ChunkedBackend(store, 256 * 4096L)) {
            b.writeAt(0, MemorySegment.ofArray(new byte[8 * 4096]));
            store.calls.clear();
            b.trim(4096, 4 * 4096);
            assertEquals(List.of("delete 1+4"), store.calls);
        }
    }
}
