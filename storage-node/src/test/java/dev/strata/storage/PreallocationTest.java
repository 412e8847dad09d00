package dev.strata.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.strata.core.CorruptionException;
import dev.strata.storage.internal.LogWriter;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Segments preallocated with zeros: the writer keeps zeros ahead of its records, recovery reads zeros as the end
 * of a segment's records (sealed or last) and still rejects or cuts real garbage.
 */
@Timeout(30)
class PreallocationTest {
    private static final LogConfig SMALL_SEGMENTS = new LogConfig(4096, 1024);

    @TempDir
    Path dir;

    private static byte[] payload(long i) {
        return ("record-" + i).getBytes(StandardCharsets.UTF_8);
    }

    private static List<Long> replayLsns(PartitionLog log, long afterLsn) throws IOException {
        List<Long> lsns = new ArrayList<>();
        log.replay(afterLsn, (lsn, epoch, p) -> {
            assertArrayEquals(payload(lsn), p.toArray(ValueLayout.JAVA_BYTE));
            lsns.add(lsn);
        });
        return lsns;
    }

    private static List<Path> segmentFiles(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> f.toString().endsWith(".log")).sorted().toList();
        }
    }

    private static void appendAndWait(PartitionLog log, long from, long to) {
        for (long i = from; i < to; i++) {
            log.append(1, payload(i));
        }
        log.append(1, payload(to)).join();
    }

    /** A copy of the log directory as a crash would leave it: page-cache contents, preallocated tails included. */
    private Path crashImage(Path logDir) throws IOException {
        Path image = dir.resolve("crash-image");
        Files.createDirectories(image);
        for (Path segment : segmentFiles(logDir)) {
            Files.copy(segment, image.resolve(segment.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
        return image;
    }

    private static void writeAt(Path file, long offset, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(bytes), offset);
        }
    }

    private static long recordsEnd(long records, long firstLsn) {
        long end = 0;
        for (long i = firstLsn; i < firstLsn + records; i++) {
            end += 24 + payload(i).length;
        }
        return end;
    }

    @Test
    void activeSegmentIsPreallocatedAheadAndCutBackOnClose() throws IOException {
        assumeFalse(LogWriter.inMemoryFileSystem(dir), "the temporary directory is on tmpfs: nothing preallocated");
        Path logDir = dir.resolve("log");
        try (PartitionLog log = PartitionLog.open(logDir, LogConfig.defaults())) {
            appendAndWait(log, 1, 10);
            Path segment = segmentFiles(logDir).getFirst();
            assertTrue(Files.size(segment) >= LogWriter.PREALLOCATE_CHUNK, "size " + Files.size(segment));
        }
        assertEquals(recordsEnd(10, 1), Files.size(segmentFiles(logDir).getFirst()));
    }

    @Test
    void aLargeGroupIsNotFollowedByZerosAndASmallOneIsAgain() throws IOException {
        assumeFalse(LogWriter.inMemoryFileSystem(dir), "the temporary directory is on tmpfs: nothing preallocated");
        Path logDir = dir.resolve("log");
        byte[] large = new byte[LogWriter.LARGE_GROUP + 1000];
        java.util.Arrays.fill(large, (byte) 7);
        try (PartitionLog log = PartitionLog.open(logDir, LogConfig.defaults())) {
            log.append(1, large).join();
            Path segment = segmentFiles(logDir).getFirst();
            long end = 24 + large.length;
            assertEquals(end, Files.size(segment), "no zeros after a group of " + large.length + " bytes");
            log.append(1, payload(2)).join();
            assertTrue(Files.size(segment) >= end + LogWriter.PREALLOCATE_CHUNK, "size " + Files.size(segment));
        }
        try (PartitionLog log = PartitionLog.open(logDir, LogConfig.defaults())) {
            List<Long> lsns = new ArrayList<>();
            log.replay(0, (lsn, epoch, p) -> {
                assertArrayEquals(lsn == 1 ? large : payload(lsn), p.toArray(ValueLayout.JAVA_BYTE));
                lsns.add(lsn);
            });
            assertEquals(List.of(1L, 2L), lsns);
        }
    }

    @Test
    void aLogOnTmpfsIsNotPreallocatedAndRecoversEveryRecord() throws IOException {
        Path shm = Path.of("/dev/shm");
        assumeTrue(Files.isDirectory(shm) && LogWriter.inMemoryFileSystem(shm), "no tmpfs at /dev/shm");
        Path logDir = Files.createTempDirectory(shm, "strata-prealloc-test-");
        try {
            try (PartitionLog log = PartitionLog.open(logDir, LogConfig.defaults())) {
                appendAndWait(log, 1, 10);
                Path segment = segmentFiles(logDir).getFirst();
                assertEquals(recordsEnd(10, 1), Files.size(segment), "no zeros written ahead of the records");
            }
            try (PartitionLog log = PartitionLog.open(logDir, LogConfig.defaults())) {
                assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L), replayLsns(log, 0));
                appendAndWait(log, 11, 20);
                assertEquals(recordsEnd(20, 1), Files.size(segmentFiles(logDir).getFirst()));
            }
            try (PartitionLog log = PartitionLog.open(logDir, LogConfig.defaults())) {
                assertEquals(20, replayLsns(log, 0).size());
                assertEquals(20, log.durableLsn());
            }
        } finally {
            try (Stream<Path> files = Files.walk(logDir)) {
                for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }

    @Test
    void zeroFilledTailOfTheLastSegmentEndsItsRecords() throws IOException {
        Path logDir = dir.resolve("log");
        try (PartitionLog log = PartitionLog.open(logDir, LogConfig.defaults())) {
            appendAndWait(log, 1, 50);
            Path image = crashImage(logDir);
            assertTrue(Files.size(segmentFiles(image).getFirst()) > recordsEnd(50, 1), "image has a zero tail");
            try (PartitionLog recovered = PartitionLog.open(image, LogConfig.defaults())) {
                assertEquals(50, recovered.appendedLsn());
                assertEquals(51, recovered.append(1, payload(51)).join());
                assertEquals(51, replayLsns(recovered, 0).size());
            }
            try (PartitionLog reopened = PartitionLog.open(image, LogConfig.defaults())) {
                assertEquals(51, reopened.appendedLsn());
            }
        }
    }

    @Test
    void shortZeroTailOfAFullSegmentIsNotATornHeader() throws IOException {
        Path logDir = dir.resolve("log");
        try (PartitionLog log = PartitionLog.open(logDir, LogConfig.defaults())) {
            appendAndWait(log, 1, 5);
        }
        Path segment = segmentFiles(logDir).getFirst();
        long size = Files.size(segment);
        writeAt(segment, size, new byte[10]); // fewer zeros than a frame header
        try (PartitionLog log = PartitionLog.open(logDir, LogConfig.defaults())) {
            assertEquals(5, log.appendedLsn());
            assertEquals(List.of(1L, 2L, 3L, 4L, 5L), replayLsns(log, 0));
        }
    }

    @Test
    void zeroFilledTailsOfSealedSegmentsEndTheirRecords() throws IOException {
        Path logDir = dir.resolve("log");
        try (PartitionLog log = PartitionLog.open(logDir, SMALL_SEGMENTS)) {
            appendAndWait(log, 1, 400);
        }
        List<Path> segments = segmentFiles(logDir);
        assertTrue(segments.size() >= 3, "segments: " + segments);
        for (Path sealed : segments.subList(0, segments.size() - 1)) {
            long size = Files.size(sealed);
            writeAt(sealed, size, new byte[(int) (SMALL_SEGMENTS.segmentBytes() - size + 24)]); // header or more
        }
        try (PartitionLog log = PartitionLog.open(logDir, SMALL_SEGMENTS)) {
            assertEquals(400, log.appendedLsn());
            assertEquals(400, replayLsns(log, 0).size());
            assertEquals(401, log.append(1, payload(401)).join());
        }
    }

    @Test
    void lastSegmentHoldingOnlyZerosIsDroppedAndItsPredecessorContinues() throws IOException {
        Path logDir = dir.resolve("log");
        try (PartitionLog log = PartitionLog.open(logDir, SMALL_SEGMENTS)) {
            appendAndWait(log, 1, 200);
        }
        List<Path> segments = segmentFiles(logDir);
        Path last = segments.getLast();
        long lastFirst = Long.parseLong(last.getFileName().toString().substring(0, 20));
        try (FileChannel ch = FileChannel.open(last, StandardOpenOption.WRITE)) {
            ch.truncate(0);
            ch.write(ByteBuffer.allocate(4096), 0); // created and preallocated, no record durable yet
        }
        try (PartitionLog log = PartitionLog.open(logDir, SMALL_SEGMENTS)) {
            assertEquals(segments.size() - 1, segmentFiles(logDir).size());
            assertEquals(lastFirst - 1, log.appendedLsn());
            appendAndWait(log, lastFirst, 300);
            assertEquals(300, replayLsns(log, 0).size());
        }
    }

    @Test
    void garbageAfterZerosInASealedSegmentIsReported() throws IOException {
        Path logDir = dir.resolve("log");
        try (PartitionLog log = PartitionLog.open(logDir, SMALL_SEGMENTS)) {
            appendAndWait(log, 1, 400);
            Path image = crashImage(logDir);
            Path sealed = segmentFiles(image).get(1);
            writeAt(sealed, SMALL_SEGMENTS.segmentBytes() - 3, new byte[] {0, 0x5a, 0});
            CorruptionException e = assertThrows(CorruptionException.class,
                    () -> PartitionLog.open(image, SMALL_SEGMENTS));
            assertTrue(e.getMessage().contains(sealed.getFileName().toString()), e.getMessage());
        }
    }

    @Test
    void garbageFarBehindTheZerosOfASealedSegmentIsReported() throws IOException {
        Path logDir = dir.resolve("log");
        try (PartitionLog log = PartitionLog.open(logDir, SMALL_SEGMENTS)) {
            appendAndWait(log, 1, 400);
        }
        Path sealed = segmentFiles(logDir).get(1);
        long size = Files.size(sealed);
        writeAt(sealed, size, new byte[200_000]);
        writeAt(sealed, size + 150_000, new byte[] {0, 0x21});
        CorruptionException e = assertThrows(CorruptionException.class, () -> PartitionLog.open(logDir, SMALL_SEGMENTS));
        assertTrue(e.getMessage().contains(sealed.getFileName().toString())
                && e.getMessage().contains("non-zero byte at " + (size + 150_001)), e.getMessage());
    }

    @Test
    void recordsZeroedAtTheEndOfASealedSegmentAreAnLsnGap() throws IOException {
        Path logDir = dir.resolve("log");
        try (PartitionLog log = PartitionLog.open(logDir, SMALL_SEGMENTS)) {
            appendAndWait(log, 1, 400);
        }
        Path sealed = segmentFiles(logDir).getFirst();
        long size = Files.size(sealed);
        long lastFrame = 24 + payload(1).length; // any frame length will do: zero the last one or so
        writeAt(sealed, size - lastFrame, new byte[(int) lastFrame]);
        assertThrows(CorruptionException.class, () -> PartitionLog.open(logDir, SMALL_SEGMENTS));
    }

    @Test
    void garbageAfterZerosInTheLastSegmentIsCutAsATornTail() throws IOException {
        Path logDir = dir.resolve("log");
        try (PartitionLog log = PartitionLog.open(logDir, LogConfig.defaults())) {
            appendAndWait(log, 1, 30);
            Path image = crashImage(logDir);
            Path segment = segmentFiles(image).getFirst();
            long end = recordsEnd(30, 1);
            // a later page of an unacknowledged group reached the disk, an earlier one did not
            writeAt(segment, end + 8192, new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
            try (PartitionLog recovered = PartitionLog.open(image, LogConfig.defaults())) {
                assertEquals(end, Files.size(segment), "cut back to the records");
                assertEquals(30, recovered.appendedLsn());
                appendAndWait(recovered, 31, 40);
                assertEquals(40, replayLsns(recovered, 0).size());
            }
        }
    }

    @Test
    void garbageRightAfterTheRecordsIsStillATornTail() throws IOException {
        Path logDir = dir.resolve("log");
        try (PartitionLog log = PartitionLog.open(logDir, LogConfig.defaults())) {
            appendAndWait(log, 1, 30);
            Path image = crashImage(logDir);
            Path segment = segmentFiles(image).getFirst();
            long end = recordsEnd(30, 1);
            writeAt(segment, end, new byte[] {(byte) 0xde, (byte) 0xad, 0x01, 0, 0, 0, 0x7f, 1, 2, 3});
            try (PartitionLog recovered = PartitionLog.open(image, LogConfig.defaults())) {
                assertEquals(end, Files.size(segment));
                assertEquals(30, recovered.appendedLsn());
            }
        }
    }

    @Test
    void aFlippedBitInTheLastRecordBeforeTheZerosIsStillCaught() throws IOException {
        Path logDir = dir.resolve("log");
        try (PartitionLog log = PartitionLog.open(logDir, LogConfig.defaults())) {
            appendAndWait(log, 1, 30);
            Path image = crashImage(logDir);
            Path segment = segmentFiles(image).getFirst();
            long end = recordsEnd(30, 1);
            writeAt(segment, end - 1, new byte[] {(byte) 0x99});
            try (PartitionLog recovered = PartitionLog.open(image, LogConfig.defaults())) {
                assertEquals(29, recovered.appendedLsn());
                assertEquals(end - 24 - payload(30).length, Files.size(segment));
            }
        }
    }
}
