package dev.strata.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.core.CorruptionException;
import dev.strata.storage.internal.LogWriter;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(30)
class PartitionLogTest {
    private static final LogConfig SMALL_SEGMENTS = new LogConfig(4096, 1024);

    @TempDir
    Path dir;

    private static byte[] payload(long i) {
        return ("record-" + i).getBytes(StandardCharsets.UTF_8);
    }

    private record Seen(long lsn, long epoch, byte[] payload) {}

    private static List<Seen> replayAll(PartitionLog log, long afterLsn) throws IOException {
        List<Seen> seen = new ArrayList<>();
        log.replay(afterLsn, (lsn, epoch, p) -> seen.add(new Seen(lsn, epoch, p.toArray(ValueLayout.JAVA_BYTE))));
        return seen;
    }

    private static List<Path> segmentFiles(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> f.toString().endsWith(".log")).sorted().toList();
        }
    }

    @Test
    void appendsAndReplaysInLsnOrder() throws IOException {
        try (PartitionLog log = PartitionLog.open(dir, LogConfig.defaults())) {
            assertEquals(0, log.appendedLsn());
            assertEquals(1, log.firstLsn());
            for (long i = 1; i <= 100; i++) {
                assertEquals(i, log.append(7, payload(i)).join());
            }
            assertEquals(100, log.durableLsn());
            assertEquals(7, log.highestEpoch());
            List<Seen> seen = replayAll(log, 0);
            assertEquals(100, seen.size());
            for (int i = 0; i < 100; i++) {
                assertEquals(i + 1, seen.get(i).lsn());
                assertEquals(7, seen.get(i).epoch());
                assertArrayEquals(payload(i + 1), seen.get(i).payload());
            }
            assertEquals(50, replayAll(log, 50).size());
            assertEquals(51, replayAll(log, 50).getFirst().lsn());
        }
    }

    @Test
    void appendsThePayloadPrefixItIsGivenAndRejectsALengthOutsideTheArray() throws IOException {
        try (PartitionLog log = PartitionLog.open(dir, LogConfig.defaults())) {
            byte[] buffer = "record-1 and stale bytes of an earlier batch".getBytes(StandardCharsets.UTF_8);
            assertEquals(1, log.append(2, buffer, 8).join());
            assertEquals(2, log.appendAndCommit(2, buffer, 0).join());
            assertThrows(IllegalArgumentException.class, () -> log.append(2, buffer, buffer.length + 1));
            assertThrows(IllegalArgumentException.class, () -> log.appendAndCommit(2, buffer, -1));
            List<Seen> seen = replayAll(log, 0);
            assertEquals(2, seen.size());
            assertArrayEquals(payload(1), seen.get(0).payload());
            assertArrayEquals(new byte[0], seen.get(1).payload());
        }
    }

    @Test
    void appendsSegmentsOfHeapOrNativeMemoryAndChecksTheirSize() throws IOException {
        try (PartitionLog log = PartitionLog.open(dir, new LogConfig(64 << 20, 64));
                java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofShared()) { // the writer thread reads it
            java.lang.foreign.MemorySegment nat = arena.allocate(32);
            nat.copyFrom(java.lang.foreign.MemorySegment.ofArray(payload(1)));
            assertEquals(1, log.append(3, nat.asSlice(0, payload(1).length)).join());
            java.lang.foreign.MemorySegment heap =
                    java.lang.foreign.MemorySegment.ofArray("xxrecord-2yy".getBytes(StandardCharsets.UTF_8));
            assertEquals(2, log.appendAndCommit(3, heap.asSlice(2, 8)).join());
            assertThrows(IllegalArgumentException.class, () -> log.append(3, arena.allocate(65)),
                    "over maxRecordBytes");
            assertThrows(NullPointerException.class, () -> log.append(3, (java.lang.foreign.MemorySegment) null));
            try (Arena confined = Arena.ofConfined()) {
                // the appending thread copies the payload, so its own confined memory will do
                java.lang.foreign.MemorySegment mine = confined.allocate(payload(3).length);
                mine.copyFrom(java.lang.foreign.MemorySegment.ofArray(payload(3)));
                assertEquals(3, log.append(3, mine).join());
                java.util.concurrent.CompletableFuture<Object> other = new java.util.concurrent.CompletableFuture<>();
                Thread.ofPlatform().start(() -> {
                    try {
                        other.complete(log.append(3, mine));
                    } catch (RuntimeException e) {
                        other.complete(e);
                    }
                });
                assertInstanceOf(IllegalArgumentException.class, other.join(), "a segment another thread owns");
            }
            List<Seen> seen = replayAll(log, 0);
            assertEquals(3, seen.size());
            assertArrayEquals(payload(1), seen.get(0).payload());
            assertArrayEquals(payload(2), seen.get(1).payload());
            assertArrayEquals(payload(3), seen.get(2).payload());
        }
    }

    /**
     * Synced records leave the page cache (they would push out what the store's reads need): after 8 MiB of
     * records, at most the last MiB of them and the zeros preallocated ahead are cached ({@code fincore}).
     */
    @Test
    void syncedRecordsLeaveThePageCache() throws Exception {
        Path fincore = Path.of("/usr/bin/fincore");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(fincore), "needs fincore (util-linux)");
        try (PartitionLog log = PartitionLog.open(dir, new LogConfig(64 << 20, 1 << 20))) {
            byte[] record = new byte[64 << 10];
            java.util.Arrays.fill(record, (byte) 7);
            for (int i = 0; i < 128; i++) {
                log.append(1, record).join();
            }
            Path segment = segmentFiles(dir).getFirst();
            Process p = new ProcessBuilder(fincore.toString(), "--bytes", "--noheadings", "--output", "RES",
                    segment.toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            assertEquals(0, p.waitFor(), out);
            long cached = Long.parseLong(out);
            assertTrue(Files.size(segment) >= 8 << 20, "segment holds the records");
            assertTrue(cached <= 3 << 20, "cached bytes of the log segment: " + cached);
        }
    }

    @Test
    void reopensAfterCloseAndContinuesLsns() throws IOException {
        PartitionLog first = PartitionLog.open(dir, LogConfig.defaults());
        List<CompletableFuture<Long>> futures = new ArrayList<>();
        for (long i = 1; i <= 10; i++) {
            futures.add(first.append(3, payload(i)));
        }
        first.close(); // commits what was enqueued before returning
        futures.forEach(f -> assertTrue(f.isDone() && !f.isCompletedExceptionally()));
        first.close(); // idempotent
        assertInstanceOf(IllegalStateException.class, cause(first.append(3, payload(11))));
        try (PartitionLog log = PartitionLog.open(dir, LogConfig.defaults())) {
            assertEquals(10, log.appendedLsn());
            assertEquals(10, log.durableLsn());
            assertEquals(3, log.highestEpoch());
            assertEquals(11, log.append(3, payload(11)).join());
            assertEquals(11, replayAll(log, 0).size());
        }
    }

    @Test
    void groupCommitSharesFsyncsAmongConcurrentAppenders() throws Exception {
        int threads = 16;
        int perThread = 500;
        try (PartitionLog log = PartitionLog.open(dir, LogConfig.defaults());
                ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<List<Long>>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                results.add(pool.submit(() -> {
                    start.await();
                    List<Long> lsns = new ArrayList<>();
                    for (int i = 0; i < perThread; i++) {
                        byte[] record = new byte[100];
                        ByteBuffer.wrap(record).putInt(thread).putInt(i);
                        lsns.add(log.append(1, record).join());
                    }
                    return lsns;
                }));
            }
            start.countDown();
            long[] seen = new long[threads * perThread + 1];
            for (Future<List<Long>> result : results) {
                for (long lsn : result.get()) {
                    seen[(int) lsn]++;
                }
            }
            for (int lsn = 1; lsn < seen.length; lsn++) {
                assertEquals(1, seen[lsn], "LSN " + lsn + " assigned once");
            }
            LogStats stats = log.stats();
            assertEquals(threads * perThread, stats.durableLsn());
            assertTrue(stats.fsyncs() < threads * perThread / 2,
                    "expected grouping, got " + stats.fsyncs() + " fsyncs for " + threads * perThread + " records");
            assertTrue(stats.averageGroupSize() > 2, "average group " + stats.averageGroupSize());
            List<Seen> replayed = replayAll(log, 0);
            assertEquals(threads * perThread, replayed.size());
            int[] nextSeq = new int[threads];
            for (Seen record : replayed) {
                ByteBuffer b = ByteBuffer.wrap(record.payload());
                int thread = b.getInt();
                assertEquals(nextSeq[thread]++, b.getInt(), "thread " + thread + " records in LSN order");
            }
        }
    }

    @Test
    void pipelinedAppendsOfOneThreadStillShareFsyncs() throws IOException {
        try (PartitionLog log = PartitionLog.open(dir, LogConfig.defaults())) {
            List<CompletableFuture<Long>> futures = new ArrayList<>();
            for (long i = 1; i <= 2000; i++) {
                futures.add(log.append(1, payload(i))); // never blocks on a sync
            }
            for (int i = 0; i < futures.size(); i++) {
                assertEquals(i + 1, futures.get(i).join());
            }
            LogStats stats = log.stats();
            assertEquals(2000, stats.durableLsn());
            assertTrue(stats.groups() < 1000, "expected grouping, got " + stats.groups() + " groups");
        }
    }

    /**
     * An append copies its payload: the one array here is rewritten right after every append, while the records
     * queue up (megabytes of them, past the log's kept buffer size, over several segments), and every record still
     * reads back as it was appended. Small records after the large ones land in the buffers given back smaller.
     */
    @Test
    void aPayloadMayBeReusedAsSoonAsItsAppendReturns() throws IOException {
        int large = 1 << 20;
        try (PartitionLog log = PartitionLog.open(dir, new LogConfig(8 << 20, large))) {
            byte[] reused = new byte[large];
            List<CompletableFuture<Long>> futures = new ArrayList<>();
            for (int i = 1; i <= 60; i++) {
                java.util.Arrays.fill(reused, (byte) i);
                int length = i <= 40 ? large : 100 + i;
                futures.add(i % 2 == 0 ? log.append(1, reused, length) : log.append(1, MemorySegment.ofArray(reused)
                        .asSlice(0, length)));
                java.util.Arrays.fill(reused, (byte) -1); // the queued record must not see this
            }
            for (int i = 0; i < futures.size(); i++) {
                assertEquals(i + 1, futures.get(i).join());
            }
            List<Seen> seen = replayAll(log, 0);
            assertEquals(60, seen.size());
            for (int i = 1; i <= 60; i++) {
                byte[] expected = new byte[i <= 40 ? large : 100 + i];
                java.util.Arrays.fill(expected, (byte) i);
                assertArrayEquals(expected, seen.get(i - 1).payload(), "record " + i);
            }
            assertTrue(segmentFiles(dir).size() >= 5, "40 MiB of records in 8 MiB segments");
        }
    }
    @Test
    void lentPayloadsAreWrittenFromWhereTheyAreAndGivenBackOnceWritten() throws Exception {
        int lendMin = LogWriter.LEND_MIN;
        List<byte[]> expected = new ArrayList<>();
        // the arena outlives the log: a payload still lent when the log closes must not be freed under it
        try (Arena shared = Arena.ofShared();
                PartitionLog log = PartitionLog.open(dir, new LogConfig(1 << 20, 512 << 10))) {
            int n = 48;
            AtomicIntegerArray released = new AtomicIntegerArray(n + 1);
            long[] durableAtRelease = new long[n + 1];
            List<CompletableFuture<Long>> futures = new ArrayList<>();
            for (int i = 1; i <= n; i++) {
                // lent (native, shared, large), copied (small), lent again; 3 MiB and more over 1 MiB segments
                int size = i % 3 == 2 ? 100 + i : lendMin + 1000 * i;
                MemorySegment p = shared.allocate(size);
                p.fill((byte) i);
                expected.add(p.toArray(ValueLayout.JAVA_BYTE));
                int at = i;
                Runnable release = () -> {
                    durableAtRelease[at] = log.durableLsn();
                    released.incrementAndGet(at);
                    p.fill((byte) -1); // the log must not read it any more
                };
                futures.add(i % 4 == 0 ? log.appendLentAndCommit(3, p, release) : log.appendLent(3, p, release));
                if (size < lendMin) {
                    assertEquals(1, released.get(i), "a small payload is copied and given back at once");
                }
            }
            for (int i = 0; i < n; i++) {
                assertEquals(i + 1, futures.get(i).join());
            }
            for (int i = 1; i <= n; i++) {
                assertEquals(1, released.get(i), "given back exactly once: record " + i);
                if ((i % 3) != 2) {
                    assertTrue(durableAtRelease[i] >= i, "record " + i + " given back before it was written");
                }
            }
            List<Seen> seen = replayAll(log, 0);
            assertEquals(n, seen.size());
            for (int i = 0; i < n; i++) {
                assertArrayEquals(expected.get(i), seen.get(i).payload(), "record " + (i + 1));
            }
            assertTrue(segmentFiles(dir).size() >= 3, "lent records rolled segments");

            // memory confined to this thread cannot be read by the writer thread: copied, given back at once
            try (Arena confined = Arena.ofConfined()) {
                MemorySegment p = confined.allocate(lendMin * 2L);
                p.fill((byte) 77);
                int[] count = new int[1];
                CompletableFuture<Long> f = log.appendLent(3, p, () -> count[0]++);
                assertEquals(1, count[0]);
                p.fill((byte) 0);
                assertEquals(n + 1, f.join());
                expected.add(p.fill((byte) 77).toArray(ValueLayout.JAVA_BYTE));
            }
            // refused: given back too
            int[] refused = new int[1];
            MemorySegment stale = shared.allocate(lendMin);
            assertInstanceOf(StaleEpochException.class, assertThrows(CompletionException.class,
                    () -> log.appendLent(2, stale, () -> refused[0]++).join()).getCause());
            assertEquals(1, refused[0]);
            assertThrows(IllegalArgumentException.class, () -> log.appendLent(3, shared.allocate(600 << 10),
                    () -> refused[0]++));
            assertEquals(2, refused[0], "an oversized record is refused and given back");
        }
        try (PartitionLog log = PartitionLog.open(dir, new LogConfig(1 << 20, 512 << 10))) {
            List<Seen> seen = replayAll(log, 0);
            assertEquals(expected.size(), seen.size(), "every record recovered, checksums included");
            for (int i = 0; i < seen.size(); i++) {
                assertArrayEquals(expected.get(i), seen.get(i).payload(), "record " + (i + 1) + " after reopening");
            }
        }
    }

    @Test
    void aWaitingAppenderGetsItsFuturesCompletedInLsnOrder() throws Exception {
        // get() on an append future may commit the group on the caller or find the woken writer thread did it
        try (PartitionLog log = PartitionLog.open(dir, LogConfig.defaults())) {
            List<Long> completed = Collections.synchronizedList(new ArrayList<>());
            for (long i = 1; i <= 200; i++) {
                assertEquals(i, log.append(1, payload(i)).thenApply(lsn -> {
                    completed.add(lsn);
                    return lsn;
                }).get());
            }
            for (int i = 0; i < completed.size(); i++) {
                assertEquals(i + 1, completed.get(i));
            }
            assertEquals(200, replayAll(log, 0).size());
        }
    }

    @Test
    void appendAndCommitOnAnIdleLogCommitsOnTheCallerBeforeReturning() throws Exception {
        try (PartitionLog log = PartitionLog.open(dir, LogConfig.defaults())) {
            for (long i = 1; i <= 200; i++) {
                CompletableFuture<Long> f = log.appendAndCommit(1, payload(i));
                // only the calling thread could have completed it: the writer thread was never woken
                assertTrue(f.isDone(), "record " + i + " not committed by the caller");
                assertEquals(i, f.join());
                assertEquals(i, log.durableLsn());
            }
            assertEquals(200, log.stats().groups());
            assertEquals(200, replayAll(log, 0).size());
        }
    }

    @Test
    void appendAndCommitCompletesWhenAGroupIsInProgressOrFromACompletionStage() throws Exception {
        try (PartitionLog log = PartitionLog.open(dir, LogConfig.defaults())) {
            // from a completion stage (which must not take the commit role) the writer thread is woken instead
            CompletableFuture<Long> chained = log.append(1, payload(1))
                    .thenCompose(lsn -> log.appendAndCommit(1, payload(2)));
            assertEquals(2, chained.get(10, TimeUnit.SECONDS));
            // racing committers: records queued behind a group in progress are handed to the writer thread
            int threads = 4;
            int perThread = 500;
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                List<Future<List<CompletableFuture<Long>>>> results = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    results.add(pool.submit(() -> {
                        List<CompletableFuture<Long>> mine = new ArrayList<>();
                        for (int i = 0; i < perThread; i++) {
                            mine.add(log.appendAndCommit(1, payload(i))); // not waited on here
                        }
                        return mine;
                    }));
                }
                Set<Long> lsns = new HashSet<>();
                for (Future<List<CompletableFuture<Long>>> r : results) {
                    for (CompletableFuture<Long> f : r.get()) {
                        assertTrue(lsns.add(f.get(10, TimeUnit.SECONDS)));
                    }
                }
                assertEquals(threads * perThread, lsns.size());
                assertEquals(2 + threads * perThread, log.durableLsn());
            } finally {
                pool.shutdownNow();
            }
            assertEquals(2 + threads * perThread, replayAll(log, 0).size());
        }
    }

    @Test
    void replaySeesADensePrefixWhileAppendsRun() throws Exception {
        try (PartitionLog log = PartitionLog.open(dir, SMALL_SEGMENTS)) {
            CompletableFuture<Void> appender = CompletableFuture.runAsync(() -> {
                for (long i = 1; i <= 2000; i++) {
                    log.append(1, payload(i));
                }
                log.append(1, payload(2001)).join();
            });
            long durable = 0;
            while (durable < 2001 && !appender.isCompletedExceptionally()) {
                List<Seen> seen = replayAll(log, 0);
                assertTrue(seen.size() >= durable, "replay never goes back");
                for (int i = 0; i < seen.size(); i++) {
                    assertEquals(i + 1, seen.get(i).lsn());
                }
                durable = seen.size();
            }
            appender.join();
        }
    }

    @Test
    void tornFirstRecordOfANewSegmentDropsThatSegment() throws IOException {
        try (PartitionLog log = PartitionLog.open(dir, SMALL_SEGMENTS)) {
            for (long i = 1; i <= 200; i++) {
                log.append(4, payload(i));
            }
            log.append(4, payload(201)).join();
        }
        List<Path> segments = segmentFiles(dir);
        Path last = segments.getLast();
        long lastFirst = Long.parseLong(last.getFileName().toString().substring(0, 20));
        try (FileChannel ch = FileChannel.open(last, StandardOpenOption.WRITE)) {
            ch.truncate(5);
        }
        try (PartitionLog log = PartitionLog.open(dir, SMALL_SEGMENTS)) {
            assertEquals(segments.size() - 1, segmentFiles(dir).size());
            assertEquals(lastFirst - 1, log.appendedLsn());
            assertEquals(4, log.highestEpoch());
            for (long i = lastFirst; i <= 300; i++) {
                assertEquals(i, log.append(4, payload(i)).join());
            }
        }
        try (PartitionLog log = PartitionLog.open(dir, SMALL_SEGMENTS)) {
            assertEquals(300, log.appendedLsn());
            List<Seen> seen = replayAll(log, 0);
            assertEquals(300, seen.size());
            assertArrayEquals(payload(300), seen.getLast().payload());
        }
    }

    @Test
    void loneTornSegmentKeepsTheLogEmpty() throws IOException {
        try (PartitionLog log = PartitionLog.open(dir, LogConfig.defaults())) {
            log.append(1, payload(1)).join();
        }
        Path only = segmentFiles(dir).getFirst();
        try (FileChannel ch = FileChannel.open(only, StandardOpenOption.WRITE)) {
            ch.truncate(10);
        }
        try (PartitionLog log = PartitionLog.open(dir, LogConfig.defaults())) {
            assertEquals(0, log.appendedLsn());
            assertEquals(1, log.firstLsn());
            assertEquals(1, log.append(1, payload(1)).join());
            assertEquals(1, replayAll(log, 0).size());
        }
    }

    @Test
    void recoveryCutsGarbageAtTheTailAndContinues() throws IOException {
        try (PartitionLog log = PartitionLog.open(dir, LogConfig.defaults())) {
            for (long i = 1; i <= 20; i++) {
                log.append(1, payload(i));
            }
            log.append(1, payload(20)).join();
        }
        Path segment = segmentFiles(dir).getLast();
        long goodSize = Files.size(segment);
        try (FileChannel ch = FileChannel.open(segment, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ch.write(ByteBuffer.wrap(new byte[] {(byte) 0xde, (byte) 0xad, 0x01, 0x00, 0x00, 0x00, 0x7f, 1, 2, 3}));
        }
        try (PartitionLog log = PartitionLog.open(dir, LogConfig.defaults())) {
            assertEquals(goodSize, Files.size(segment));
            assertEquals(21, log.appendedLsn());
            assertEquals(22, log.append(1, payload(22)).join());
            assertEquals(22, replayAll(log, 0).size());
        }
    }

    @Test
    void recoveryCutsATornLastRecord() throws IOException {
        try (PartitionLog log = PartitionLog.open(dir, LogConfig.defaults())) {
            for (long i = 1; i <= 10; i++) {
                log.append(1, payload(i)).join();
            }
        }
        Path segment = segmentFiles(dir).getLast();
        long size = Files.size(segment);
        long lastFrame = 24 + payload(10).length;
        try (FileChannel ch = FileChannel.open(segment, StandardOpenOption.WRITE)) {
            ch.truncate(size - 3); // torn in the middle of record 10
        }
        try (PartitionLog log = PartitionLog.open(dir, LogConfig.defaults())) {
            assertEquals(size - lastFrame, Files.size(segment));
            assertEquals(9, log.appendedLsn());
            assertEquals(10, log.append(1, payload(100)).join());
            List<Seen> seen = replayAll(log, 8);
            assertEquals(2, seen.size());
            assertArrayEquals(payload(100), seen.get(1).payload());
        }
    }

    @Test
    void recoveryDetectsAFlippedBitInTheLastRecord() throws IOException {
        try (PartitionLog log = PartitionLog.open(dir, LogConfig.defaults())) {
            for (long i = 1; i <= 5; i++) {
                log.append(1, payload(i)).join();
            }
        }
        Path segment = segmentFiles(dir).getLast();
        flipByte(segment, Files.size(segment) - 1);
        try (PartitionLog log = PartitionLog.open(dir, LogConfig.defaults())) {
            assertEquals(4, log.appendedLsn());
        }
    }

    @Test
    void corruptionInASealedSegmentIsReported() throws IOException {
        try (PartitionLog log = PartitionLog.open(dir, SMALL_SEGMENTS)) {
            for (long i = 1; i <= 400; i++) {
                log.append(1, payload(i));
            }
            log.append(1, payload(401)).join();
        }
        List<Path> segments = segmentFiles(dir);
        assertTrue(segments.size() >= 3, "segments: " + segments);
        flipByte(segments.get(1), 100);
        CorruptionException e = assertThrows(CorruptionException.class, () -> PartitionLog.open(dir, SMALL_SEGMENTS));
        assertTrue(e.getMessage().contains(segments.get(1).getFileName().toString()), e.getMessage());
    }

    @Test
    void missingMiddleSegmentIsAnLsnGap() throws IOException {
        try (PartitionLog log = PartitionLog.open(dir, SMALL_SEGMENTS)) {
            for (long i = 1; i <= 400; i++) {
                log.append(1, payload(i));
            }
            log.append(1, payload(401)).join();
        }
        Files.delete(segmentFiles(dir).get(1));
        assertThrows(CorruptionException.class, () -> PartitionLog.open(dir, SMALL_SEGMENTS));
    }

    @Test
    void rollsSegmentsAndTrimsOnlySealedOnes() throws IOException {
        try (PartitionLog log = PartitionLog.open(dir, SMALL_SEGMENTS)) {
            for (long i = 1; i <= 400; i++) {
                log.append(2, payload(i));
            }
            log.append(2, payload(401)).join();
            List<Path> segments = segmentFiles(dir);
            assertEquals(segments.size(), log.stats().segments());
            assertTrue(segments.size() >= 3);
            for (Path segment : segments) {
                assertTrue(Files.size(segment) <= SMALL_SEGMENTS.segmentBytes(), segment + " too large");
            }
            long secondFirst = Long.parseLong(segments.get(1).getFileName().toString().substring(0, 20));
            long thirdFirst = Long.parseLong(segments.get(2).getFileName().toString().substring(0, 20));

            log.trim(secondFirst - 2); // first segment still holds secondFirst - 1
            assertEquals(1, log.firstLsn());
            log.trim(secondFirst - 1);
            assertEquals(secondFirst, log.firstLsn());
            assertEquals(segments.size() - 1, segmentFiles(dir).size());
            assertThrows(IllegalStateException.class, () -> replayAll(log, 0));
            assertEquals(401 - thirdFirst + 1, replayAll(log, thirdFirst - 1).size());

            log.trim(Long.MAX_VALUE); // everything but the active segment
            assertEquals(1, segmentFiles(dir).size());
            assertEquals(segments.getLast(), segmentFiles(dir).getFirst());
            assertEquals(402, log.append(2, payload(402)).join());
        }
        try (PartitionLog log = PartitionLog.open(dir, SMALL_SEGMENTS)) {
            assertEquals(402, log.appendedLsn());
            assertEquals(2, log.highestEpoch());
            long first = log.firstLsn();
            assertEquals(402 - first + 1, replayAll(log, first - 1).size());
        }
    }

    @Test
    void fencesStaleEpochs() throws IOException {
        try (PartitionLog log = PartitionLog.open(dir, LogConfig.defaults())) {
            assertEquals(1, log.append(5, payload(1)).join());
            assertEquals(2, log.append(6, payload(2)).join());
            StaleEpochException stale = assertInstanceOf(StaleEpochException.class, cause(log.append(5, payload(3))));
            assertEquals(5, stale.epoch());
            assertEquals(6, stale.highestEpoch());
            assertInstanceOf(StaleEpochException.class, cause(log.appendAt(3, 4, payload(3))));
            assertEquals(2, log.appendedLsn());
            assertEquals(3, log.append(6, payload(3)).join());
        }
        try (PartitionLog log = PartitionLog.open(dir, LogConfig.defaults())) {
            assertEquals(6, log.highestEpoch());
            assertInstanceOf(StaleEpochException.class, cause(log.append(5, payload(4))));
        }
    }

    @Test
    void replicaAppendsRequireTheNextLsn() throws IOException {
        try (PartitionLog log = PartitionLog.open(dir, LogConfig.defaults())) {
            assertEquals(1, log.appendAt(1, 1, payload(1)).join());
            LsnGapException gap = assertInstanceOf(LsnGapException.class, cause(log.appendAt(3, 1, payload(3))));
            assertEquals(2, gap.expectedLsn());
            assertEquals(3, gap.lsn());
            assertInstanceOf(LsnGapException.class, cause(log.appendAt(1, 1, payload(1))));
            assertInstanceOf(LsnGapException.class, cause(log.appendAt(-1, 1, payload(1))));
            assertEquals(2, log.appendAt(2, 2, payload(2)).join());
            assertEquals(2, log.durableLsn());
            assertEquals(List.of(1L, 2L), replayAll(log, 0).stream().map(Seen::lsn).toList());
        }
    }

    @Test
    void rejectsOversizedRecordsImmediately() throws IOException {
        try (PartitionLog log = PartitionLog.open(dir, new LogConfig(1 << 20, 100))) {
            assertThrows(IllegalArgumentException.class, () -> log.append(1, new byte[101]));
            assertThrows(IllegalArgumentException.class, () -> log.appendAt(1, 1, new byte[101]));
            assertEquals(0, log.appendedLsn());
            assertEquals(1, log.append(1, new byte[100]).join());
            assertEquals(1, log.append(1, new byte[0]).join() - 1);
        }
    }

    @Test
    void recordLargerThanASegmentGetsItsOwn() throws IOException {
        try (PartitionLog log = PartitionLog.open(dir, new LogConfig(4096, 64 << 10))) {
            log.append(1, new byte[10]).join();
            log.append(1, new byte[10_000]).join();
            log.append(1, new byte[10]).join();
            assertEquals(3, segmentFiles(dir).size());
            assertEquals(10_000, replayAll(log, 1).getFirst().payload().length);
        }
    }

    @Test
    void validatesConfig() {
        assertThrows(IllegalArgumentException.class, () -> new LogConfig(100, 10));
        assertThrows(IllegalArgumentException.class, () -> new LogConfig(1 << 20, -1));
        assertEquals(new LogConfig(64L << 20, 16 << 20), LogConfig.defaults());
    }

    @Test
    void writerThreadIsNamedForTheLog() throws IOException {
        Path logDir = dir.resolve("p7");
        try (PartitionLog log = PartitionLog.open(logDir, LogConfig.defaults())) {
            log.append(1, payload(1)).join();
            assertTrue(Thread.getAllStackTraces().keySet().stream()
                    .anyMatch(t -> t.getName().equals("strata-log-writer-p7")));
        }
        assertTrue(Thread.getAllStackTraces().keySet().stream()
                .noneMatch(t -> t.getName().equals("strata-log-writer-p7") && t.isAlive()), "writer stopped on close");
    }

    private static Throwable cause(CompletableFuture<Long> future) {
        CompletionException e = assertThrows(CompletionException.class, future::join);
        return e.getCause();
    }

    private static void flipByte(Path file, long offset) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, offset);
            b.put(0, (byte) (b.get(0) ^ 0x40));
            b.rewind();
            ch.write(b, offset);
        }
    }
}
