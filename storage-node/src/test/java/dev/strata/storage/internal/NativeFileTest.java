package dev.strata.storage.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(30)
class NativeFileTest {
    @TempDir
    Path dir;

    @Test
    void writesAndReadsHeapAndNativeSegmentsAtPositions() throws IOException {
        Path path = dir.resolve("f");
        byte[] heap = new byte[3 << 20]; // larger than the bounce buffer
        for (int i = 0; i < heap.length; i++) {
            heap[i] = (byte) (i * 31);
        }
        try (NativeFile file = NativeFile.createNew(path); Arena arena = Arena.ofConfined()) {
            file.write(100, MemorySegment.ofArray(heap));
            MemorySegment nativeSrc = arena.allocate(4096);
            nativeSrc.fill((byte) 7);
            file.write(0, nativeSrc.asSlice(0, 100));
            assertEquals(100 + heap.length, file.size());

            byte[] back = new byte[heap.length];
            assertEquals(heap.length, file.read(100, MemorySegment.ofArray(back)));
            assertArrayEquals(heap, back);
            MemorySegment nativeDst = arena.allocate(200);
            assertEquals(200, file.read(0, nativeDst));
            assertEquals(7, nativeDst.get(ValueLayout.JAVA_BYTE, 99));
            assertEquals(heap[0], nativeDst.get(ValueLayout.JAVA_BYTE, 100));
        }
        assertEquals(100 + heap.length, Files.size(path));
    }

    @Test
    void readStopsAtEndOfFileAndReadFullyComplains() throws IOException {
        try (NativeFile file = NativeFile.createNew(dir.resolve("f"))) {
            file.write(0, MemorySegment.ofArray(new byte[] {1, 2, 3}));
            byte[] dst = new byte[10];
            Arrays.fill(dst, (byte) -1);
            assertEquals(2, file.read(1, MemorySegment.ofArray(dst)));
            assertEquals(2, dst[0]);
            assertEquals(3, dst[1]);
            assertEquals(-1, dst[2]);
            assertEquals(0, file.read(50, MemorySegment.ofArray(dst)));
            IOException e = assertThrows(IOException.class, () -> file.readFully(0, MemorySegment.ofArray(dst)));
            assertTrue(e.getMessage().contains("ends at 3"), e.getMessage());
        }
    }

    @Test
    void truncatesAllocatesAndSyncs() throws IOException {
        try (NativeFile file = NativeFile.createNew(dir.resolve("f"))) {
            file.write(0, MemorySegment.ofArray(new byte[1000]));
            file.truncate(10);
            assertEquals(10, file.size());
            file.allocate(0, 8192);
            assertEquals(8192, file.size());
            file.fdatasync();
            file.fsync();
        }
        NativeFile.fsyncDirectory(dir);
    }

    @Test
    void errorsNameTheCallTheFileAndTheErrno() throws IOException {
        Path missing = dir.resolve("missing");
        NoSuchFileException noFile = assertThrows(NoSuchFileException.class, () -> NativeFile.openRead(missing));
        assertTrue(noFile.getMessage().contains("missing") && noFile.getMessage().contains("open failed: ENOENT"),
                noFile.getMessage());
        Files.writeString(dir.resolve("there"), "x");
        FileAlreadyExistsException exists = assertThrows(FileAlreadyExistsException.class,
                () -> NativeFile.createNew(dir.resolve("there")));
        assertTrue(exists.getMessage().contains("EEXIST"), exists.getMessage());
        try (NativeFile readOnly = NativeFile.openRead(dir.resolve("there"))) {
            IOException e = assertThrows(IOException.class,
                    () -> readOnly.write(0, MemorySegment.ofArray(new byte[1])));
            assertTrue(e.getMessage().contains("pwrite failed: EBADF ("), e.getMessage());
        }
    }

    @Test
    void closeIsIdempotentAndLaterCallsFail() throws IOException {
        NativeFile file = NativeFile.createNew(dir.resolve("f"));
        assertTrue(file.isOpen());
        file.close();
        file.close();
        assertFalse(file.isOpen());
        IOException e = assertThrows(IOException.class, () -> file.read(0, MemorySegment.ofArray(new byte[1])));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        assertThrows(IOException.class, file::fdatasync);
    }

    @Test
    void anInterruptedThreadDoesItsIoAndKeepsItsInterruptStatus() throws Exception {
        try (NativeFile file = NativeFile.createNew(dir.resolve("f"))) {
            CompletableFuture<Boolean> interrupted = new CompletableFuture<>();
            Thread t = Thread.ofPlatform().start(() -> {
                Thread.currentThread().interrupt();
                try {
                    file.write(0, MemorySegment.ofArray(new byte[] {42}));
                    file.fdatasync();
                    byte[] one = new byte[1];
                    file.readFully(0, MemorySegment.ofArray(one));
                    interrupted.complete(one[0] == 42 && Thread.currentThread().isInterrupted());
                } catch (Throwable e) {
                    interrupted.completeExceptionally(e);
                }
            });
            assertTrue(interrupted.get());
            t.join();
            assertTrue(file.isOpen());
            file.write(1, MemorySegment.ofArray(new byte[] {43}));
            assertEquals(2, file.size());
        }
    }

    @Test
    void findsTheLargestFileSizeTheFileSystemAccepts() throws IOException {
        Path scratch = dir.resolve("probe");
        Files.writeString(scratch, "leftover of a crashed probe");
        long max = NativeFile.maxFileSize(scratch, 1L << 44, 4096);
        assertFalse(Files.exists(scratch), "the scratch file is deleted");
        assertTrue(max > 0 && max <= 1L << 44 && max % 4096 == 0, "max " + max);
        try (NativeFile file = NativeFile.createNew(dir.resolve("f"))) {
            file.truncate(max); // sparse: costs no space
            assertEquals(max, file.size());
            if (max < 1L << 44) {
                assertThrows(IOException.class, () -> file.truncate(max + 4096));
            }
            file.truncate(0);
        }
        assertEquals(1L << 20, NativeFile.maxFileSize(scratch, 1L << 20, 4096), "capped at atMost");
    }
}
