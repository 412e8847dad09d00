package dev.strata.storage;

import dev.strata.core.CorruptionException;
import dev.strata.storage.internal.LogRecovery;
import dev.strata.storage.internal.LogWriter;
import dev.strata.storage.internal.SegmentFiles;
import dev.strata.storage.internal.SegmentReader;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * The write-ahead log of one partition: records framed as in
 * {@link dev.strata.storage.internal.LogRecordDescriptor} in segment files named by their first LSN
 * ({@code %020d.log}), with group commit — one committer at a time writes everything queued and fsyncs
 * ({@code fdatasync}) once per group: a thread waiting on an append future while the log is idle commits the
 * queued group itself; other records are committed by the writer thread ({@code strata-log-writer-<dir name>}).
 * Segments are preallocated with zeros ahead of the records (not on tmpfs or ramfs), so most syncs flush data only;
 * a clean {@link #close} cuts the active segment back to its records.
 *
 * <p>Watermarks: {@link #firstLsn()} &le; {@link #durableLsn()} + 1, {@link #durableLsn()} &le;
 * {@link #appendedLsn()}. LSNs are dense, the first is 1, and epochs never go down along the log.
 *
 * <p>Thread-safe and interrupt-safe (file I/O goes through {@code NativeFile}, never an interruptible channel).
 * Append futures complete in LSN order on the thread that committed the group — the writer thread, or a thread
 * waiting on one of them ({@code get}/{@code join}); chain slow work with {@code *Async} stages.
 */
public final class PartitionLog implements AutoCloseable {
    private final Path dir;
    private final LogConfig config;
    private final ConcurrentSkipListMap<Long, Path> segments;
    private final long baseLsn;
    private final LogWriter writer;
    private final Object trimLock = new Object();
    private volatile boolean closed;

    private PartitionLog(Path dir, LogConfig config, LogRecovery.Result recovered) throws IOException {
        this.dir = dir;
        this.config = config;
        this.segments = new ConcurrentSkipListMap<>(recovered.segments());
        this.baseLsn = recovered.nextLsn();
        this.writer = new LogWriter(dir, config.segmentBytes(), segments, recovered.nextLsn(),
                recovered.highestEpoch(), recovered.tailBytes());
    }

    /**
     * Opens (creating if absent) the log in {@code dir} and recovers it: every frame is validated; an all-zero
     * frame header followed only by zeros ends a segment's records (preallocated space); the first bad frame in
     * the last segment is a torn tail and is cut off (truncate + fsync); a bad frame in an earlier segment (also
     * zeros followed by non-zero bytes) or an LSN gap is a {@link CorruptionException}.
     */
    public static PartitionLog open(Path dir, LogConfig config) throws IOException {
        Objects.requireNonNull(config, "config");
        Files.createDirectories(dir);
        return new PartitionLog(dir, config, LogRecovery.recover(dir, config.maxRecordBytes()));
    }

    /**
     * Owner path: assigns the next LSN and enqueues the record. The future completes with the LSN once the
     * record is fsynced, or exceptionally with {@link StaleEpochException} if {@code epoch} is below
     * {@link #highestEpoch()}. The payload is copied into the log's queue before this returns, so the caller may
     * reuse it at once; this never waits for I/O. A thread that waits on the future (or a stage derived from it)
     * while the log is idle commits the record itself rather than handing it to the writer thread and back.
     *
     * @throws IllegalArgumentException if the payload is larger than {@link LogConfig#maxRecordBytes()}
     */
    public CompletableFuture<Long> append(long epoch, byte[] payload) {
        return append(epoch, payload, Objects.requireNonNull(payload, "payload").length);
    }

    /**
     * As {@link #append(long, byte[])} for the payload {@code payload[0, length)}. Like every append, this copies
     * the payload before it returns: the caller may reuse the array at once.
     */
    public CompletableFuture<Long> append(long epoch, byte[] payload, int length) {
        return append(epoch, slice(payload, length));
    }

    /**
     * As {@link #append(long, byte[])} for the payload held by {@code payload} (heap or native memory), copied before
     * this returns (the caller may reuse it at once). The calling thread must be able to read it: a segment confined
     * to another thread is refused with an {@link IllegalArgumentException}.
     */
    public CompletableFuture<Long> append(long epoch, MemorySegment payload) {
        checkPayload(payload);
        return writer.submit(epoch, payload);
    }

    /**
     * Like {@link #append}, for a caller that is about to wait on the future: the writer thread is not woken; if no
     * group is in progress the calling thread commits the queued group (its own record included) before this
     * returns, so a synchronous appender on an idle log pays no thread hand-off either way. The future completes
     * whether or not it is waited on (a group in progress hands the record to the writer thread).
     *
     * @throws IllegalArgumentException if the payload is larger than {@link LogConfig#maxRecordBytes()}
     */
    public CompletableFuture<Long> appendAndCommit(long epoch, byte[] payload) {
        return appendAndCommit(epoch, payload, Objects.requireNonNull(payload, "payload").length);
    }

    /** As {@link #appendAndCommit(long, byte[])} for the payload {@code payload[0, length)} (see {@link #append}). */
    public CompletableFuture<Long> appendAndCommit(long epoch, byte[] payload, int length) {
        return appendAndCommit(epoch, slice(payload, length));
    }

    /** As {@link #appendAndCommit(long, byte[])} for the payload held by {@code payload} (see {@link #append}). */
    public CompletableFuture<Long> appendAndCommit(long epoch, MemorySegment payload) {
        checkPayload(payload);
        return writer.submitAndCommit(epoch, payload);
    }

    /**
     * As {@link #append(long, MemorySegment)}, for a payload the caller hands over until the log no longer reads it:
     * a large one in native memory that any thread may read is not copied on the calling thread but written from
     * where it is with its group. The log runs {@code release} exactly once: after the record's group was written
     * (or failed), or before this returns if the payload was copied after all (small, heap or thread-confined
     * memory), the append was refused, or this throws. The caller must not change the payload before then.
     */
    public CompletableFuture<Long> appendLent(long epoch, MemorySegment payload, Runnable release) {
        checkLent(payload, release);
        return writer.submitLent(epoch, payload, release);
    }

    /** As {@link #appendAndCommit(long, MemorySegment)} for a lent payload (see {@link #appendLent}). */
    public CompletableFuture<Long> appendLentAndCommit(long epoch, MemorySegment payload, Runnable release) {
        checkLent(payload, release);
        return writer.submitLentAndCommit(epoch, payload, release);
    }

    private void checkLent(MemorySegment payload, Runnable release) {
        Objects.requireNonNull(release, "release");
        try {
            checkPayload(payload);
        } catch (RuntimeException e) {
            release.run();
            throw e;
        }
    }

    /**
     * Replica path: like {@link #append} but for a given LSN, which must be exactly {@link #appendedLsn()} + 1
     * (else the future fails with {@link LsnGapException}).
     */
    public CompletableFuture<Long> appendAt(long lsn, long epoch, byte[] payload) {
        MemorySegment p = slice(payload, Objects.requireNonNull(payload, "payload").length);
        checkPayload(p);
        return writer.submitAt(lsn, epoch, p);
    }

    private static MemorySegment slice(byte[] payload, int length) {
        Objects.requireNonNull(payload, "payload");
        if (length < 0 || length > payload.length) {
            throw new IllegalArgumentException("payload length " + length + " outside an array of " + payload.length
                    + " bytes");
        }
        return MemorySegment.ofArray(payload).asSlice(0, length);
    }

    private void checkPayload(MemorySegment payload) {
        Objects.requireNonNull(payload, "payload");
        if (!payload.isAccessibleBy(Thread.currentThread())) {
            throw new IllegalArgumentException("payload segment is confined to another thread: the appending thread "
                    + "copies it, so pass heap memory, a shared arena's or one confined to the appending thread");
        }
        if (payload.byteSize() > config.maxRecordBytes()) {
            throw new IllegalArgumentException(
                    "record of " + payload.byteSize() + " bytes exceeds maxRecordBytes " + config.maxRecordBytes());
        }
    }

    /** Highest LSN assigned, 0 if none. */
    public long appendedLsn() {
        return writer.appendedLsn();
    }

    /** Highest LSN fsynced: every record up to it is durable. */
    public long durableLsn() {
        return writer.durableLsn();
    }

    /** Lowest LSN still in the log (after trims); {@code appendedLsn() + 1} when the log is empty. */
    public long firstLsn() {
        Map.Entry<Long, Path> first = segments.firstEntry();
        return first == null ? baseLsn : first.getKey();
    }

    /** Highest epoch appended (or recovered), 0 if none. */
    public long highestEpoch() {
        return writer.highestEpoch();
    }

    /**
     * Visits every record with {@code afterLsn < lsn <= durableLsn()} (as of the call) in LSN order, verifying
     * each frame. Runs concurrently with appends.
     *
     * @throws IllegalStateException if some of those records were already trimmed
     * @throws CorruptionException   if a durable record fails its checks
     */
    public void replay(long afterLsn, RecordVisitor visitor) throws IOException {
        Objects.requireNonNull(visitor, "visitor");
        afterLsn = Math.max(afterLsn, 0);
        long durable = durableLsn();
        if (afterLsn >= durable) {
            return;
        }
        if (afterLsn + 1 < firstLsn()) {
            throw new IllegalStateException("records " + (afterLsn + 1) + ".." + (firstLsn() - 1) + " were trimmed");
        }
        Long start = segments.floorKey(afterLsn + 1);
        for (Map.Entry<Long, Path> segment : segments.tailMap(start == null ? 0 : start, true).entrySet()) {
            if (replaySegment(segment.getKey(), segment.getValue(), afterLsn, durable, visitor)) {
                return;
            }
        }
        throw new CorruptionException("log " + dir + " ends before durable LSN " + durable);
    }

    /** Returns true once the record at {@code durable} was reached. */
    private boolean replaySegment(long first, Path file, long afterLsn, long durable, RecordVisitor visitor)
            throws IOException {
        long expected = first;
        try (SegmentReader reader = new SegmentReader(file, config.maxRecordBytes())) {
            while (true) {
                SegmentReader.Status status = reader.next();
                if (status == SegmentReader.Status.END) {
                    return false;
                }
                if (status == SegmentReader.Status.BAD) {
                    throw new CorruptionException("bad frame at offset " + reader.frameStart() + " of " + file
                            + " before durable LSN " + durable + ": " + reader.problem());
                }
                if (reader.lsn() != expected) {
                    throw new CorruptionException("LSN gap in " + file + ": expected " + expected + ", found "
                            + reader.lsn());
                }
                if (reader.lsn() > afterLsn) {
                    visitor.record(reader.lsn(), reader.epoch(), reader.payload());
                }
                if (reader.lsn() == durable) {
                    return true;
                }
                expected++;
            }
        } catch (NoSuchFileException e) {
            throw new IllegalStateException("segment " + file + " was trimmed during replay", e);
        }
    }

    /**
     * Deletes every sealed segment whose records all have {@code lsn <= upToLsnInclusive}; the active (last)
     * segment is never deleted. The deletions are durable on return.
     */
    public void trim(long upToLsnInclusive) throws IOException {
        synchronized (trimLock) {
            boolean deleted = false;
            for (Map.Entry<Long, Path> segment : segments.entrySet()) {
                Long next = segments.higherKey(segment.getKey());
                if (next == null || next - 1 > upToLsnInclusive) {
                    break;
                }
                Files.deleteIfExists(segment.getValue());
                segments.remove(segment.getKey());
                deleted = true;
            }
            if (deleted) {
                SegmentFiles.fsyncDirectory(dir);
            }
        }
    }

    /** A snapshot of the counters. */
    public LogStats stats() {
        long groups = writer.groups();
        return new LogStats(appendedLsn(), durableLsn(), writer.fsyncs(), writer.bytesWritten(), segments.size(),
                groups, groups == 0 ? 0 : (double) writer.recordsWritten() / groups);
    }

    /**
     * Stops accepting appends, commits (writes and fsyncs) everything already enqueued, completes those futures
     * and stops the writer thread. Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        writer.close();
    }

    @Override
    public String toString() {
        return "PartitionLog[" + dir + ", first=" + firstLsn() + ", durable=" + durableLsn() + ", appended="
                + appendedLsn() + "]";
    }
}
