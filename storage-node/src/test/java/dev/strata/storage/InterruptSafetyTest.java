package dev.strata.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.core.PageSize;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Interrupting a thread that reads or writes through the storage engine must not break the files for anyone
 * else (an interruptible {@code FileChannel} would be closed for every thread by the JDK).
 */
@Timeout(60)
class InterruptSafetyTest {
    @TempDir
    Path dir;

    /** Runs {@code body} on a new thread that is interrupted before it starts; returns its result. */
    private static <T> T onInterruptedThread(Callable<T> body) throws Exception {
        CompletableFuture<T> result = new CompletableFuture<>();
        Thread t = Thread.ofPlatform().name("interrupted-caller").start(() -> {
            Thread.currentThread().interrupt();
            try {
                T value = body.call();
                if (!Thread.currentThread().isInterrupted()) {
                    throw new AssertionError("the interrupt status was swallowed");
                }
                result.complete(value);
            } catch (Throwable e) {
                result.completeExceptionally(e);
            }
        });
        t.join();
        return result.get();
    }

    private static PageImage page(Arena arena, long pageNo, long lsn) {
        MemorySegment bytes = arena.allocate(PageSize.BASE);
        bytes.fill((byte) lsn);
        return new PageImage(pageNo, 0, lsn, bytes);
    }

    @Test
    void interruptedPageFileReadsAndWritesLeaveTheFileUsable() throws Exception {
        try (PageFile file = PageFile.open(dir); Arena arena = Arena.ofShared()) {
            file.write(List.of(page(arena, 0, 1)));
            long lsn = onInterruptedThread(() -> {
                MemorySegment frame = arena.allocate(PageSize.BASE); // a buffer-pool miss reads into a native frame
                long read = file.read(0, frame);
                assertEquals(1, frame.get(ValueLayout.JAVA_BYTE, 100));
                file.write(List.of(page(arena, 1, 2)));
                file.markFreed(1);
                file.write(List.of(page(arena, 1, 3)));
                return read;
            });
            assertEquals(1, lsn);
            MemorySegment dst = arena.allocate(PageSize.BASE);
            assertEquals(3, file.read(1, dst));
            assertEquals(3, dst.get(ValueLayout.JAVA_BYTE, 7));
            file.write(List.of(page(arena, 2, 4)));
            assertEquals(4, file.read(2, dst));
        }
        try (PageFile file = PageFile.open(dir)) {
            assertEquals(3, file.slotsInUse());
        }
    }

    @Test
    void readersInterruptedMidCallDoNotCloseThePageFileForOthers() throws Exception {
        try (PageFile file = PageFile.open(dir); Arena arena = Arena.ofShared()) {
            List<PageImage> pages = new ArrayList<>();
            for (int p = 0; p < 64; p++) {
                pages.add(page(arena, p, p + 1));
            }
            file.write(pages);
            AtomicBoolean stop = new AtomicBoolean();
            CompletableFuture<Integer> reads = new CompletableFuture<>();
            Thread reader = Thread.ofPlatform().start(() -> {
                int n = 0;
                try (Arena local = Arena.ofConfined()) {
                    MemorySegment frame = local.allocate(PageSize.BASE);
                    while (!stop.get()) {
                        Thread.interrupted(); // clear, so the next interrupt may land inside a pread
                        for (int p = 0; p < 64; p++) {
                            file.read(p, frame);
                            n++;
                        }
                    }
                    reads.complete(n);
                } catch (Throwable e) {
                    reads.completeExceptionally(e);
                }
            });
            long deadline = System.nanoTime() + 300_000_000L;
            int rounds = 0;
            while (System.nanoTime() < deadline || rounds < 1000) {
                reader.interrupt();
                if (++rounds % 50 == 0) {
                    file.write(List.of(page(arena, rounds % 64, rounds))); // writes interleave with the reads
                }
                Thread.onSpinWait();
            }
            stop.set(true);
            assertTrue(reads.get() > 0);
            reader.join();
            MemorySegment dst = arena.allocate(PageSize.BASE);
            file.read(5, dst);
            file.write(List.of(page(arena, 70, 9_999)));
            assertEquals(9_999, file.read(70, dst));
        }
    }

    @Test
    void interruptedAppendersAndAnInterruptedWriterThreadLeaveTheLogUsable() throws Exception {
        Path logDir = dir.resolve("irq");
        try (PartitionLog log = PartitionLog.open(logDir, new LogConfig(8192, 1024))) {
            long last = onInterruptedThread(() -> {
                long lsn = 0;
                for (int i = 0; i < 200; i++) {
                    lsn = log.append(1, new byte[] {(byte) i}).join();
                }
                int[] seen = {0};
                log.replay(0, (l, e, p) -> seen[0]++);
                assertEquals(200, seen[0]);
                return lsn;
            });
            assertEquals(200, last);
            Thread writer = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().equals("strata-log-writer-irq")).findFirst().orElseThrow();
            for (int i = 0; i < 300; i++) {
                writer.interrupt(); // as shutdownNow() would, at whatever point the writer is at
                CompletableFuture<Long> f = log.append(1, new byte[] {(byte) i});
                writer.interrupt();
                f.join();
            }
            assertEquals(501, log.append(1, new byte[] {1}).join());
        }
        try (PartitionLog log = PartitionLog.open(logDir, new LogConfig(8192, 1024))) {
            assertEquals(501, log.appendedLsn());
        }
    }

    @Test
    void anInterruptedCheckpointerStillWritesAndReadsTheCheckpoint() throws Exception {
        Checkpoint written = new Checkpoint(42, 3, 17);
        Optional<Checkpoint> read = onInterruptedThread(() -> {
            written.write(dir);
            return Checkpoint.read(dir);
        });
        assertEquals(Optional.of(written), read);
        assertEquals(Optional.of(written), Checkpoint.read(dir));
    }
}
