package dev.strata.storage.internal;

import dev.strata.core.StrataException;
import dev.strata.storage.LsnGapException;
import dev.strata.storage.StaleEpochException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Group commit for one partition log: many appenders, one writer thread (MPSC).
 *
 * <p>Appenders take {@link #lock} only to check the epoch, assign the next LSN and add the record to
 * {@link #pending}, so LSN order is enqueue order. The writer thread swaps the whole pending list out, encodes
 * every record into one native buffer, writes it with as few {@code pwrite} calls as the buffer allows, calls
 * {@code fdatasync} once, publishes {@link #durableLsn()} and then completes the futures (on the writer
 * thread: callers should chain dependent work with {@code *Async} stages). While it fsyncs, the next group
 * queues up. A record that would push the active segment past {@code segmentBytes} goes to a new segment named
 * by its LSN; the old one is fsynced first and the directory after the new file is created.
 *
 * <p>An I/O error fails the group and every later append: after a failed write or fsync the file's state is
 * unknown, and only reopening (recovery) can say what is durable.
 */
public final class LogWriter {
    private record Request(long lsn, long epoch, byte[] payload, CompletableFuture<Long> future) {}

    private final Path dir;
    private final long segmentBytes;
    private final ConcurrentSkipListMap<Long, Path> segments;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private final Thread thread;

    // guarded by lock
    private ArrayList<Request> pending = new ArrayList<>();
    private long nextLsn;
    private long highestEpoch;
    private boolean closing;
    private Throwable failure;

    private volatile long appendedLsn;
    private volatile long durableLsn;

    // writer thread only (counters read by stats())
    private NativeFile active;
    private long activeBytes;
    private Arena bufferArena = Arena.ofShared();
    private MemorySegment buffer = bufferArena.allocate(1 << 20);
    private int buffered;
    private volatile long fsyncs;
    private volatile long bytesWritten;
    private volatile long groups;
    private volatile long recordsWritten;

    /** Starts the writer thread, appending to the last of {@code segments} (already recovered) if there is one. */
    public LogWriter(Path dir, long segmentBytes, ConcurrentSkipListMap<Long, Path> segments, long nextLsn,
            long highestEpoch, long tailBytes) throws IOException {
        this.dir = dir;
        this.segmentBytes = segmentBytes;
        this.segments = segments;
        this.nextLsn = nextLsn;
        this.highestEpoch = highestEpoch;
        this.appendedLsn = nextLsn - 1;
        this.durableLsn = nextLsn - 1;
        if (!segments.isEmpty()) {
            active = NativeFile.openReadWrite(segments.lastEntry().getValue());
            activeBytes = tailBytes;
        }
        thread = Thread.ofPlatform().name("strata-log-writer-" + dir.getFileName()).daemon().unstarted(this::run);
        thread.start();
    }

    /** Owner path: enqueues a record under the next LSN. */
    public CompletableFuture<Long> submit(long epoch, byte[] payload) {
        return submit(false, 0, epoch, payload);
    }

    /** Replica path: enqueues a record whose LSN must be exactly the next one. */
    public CompletableFuture<Long> submitAt(long lsn, long epoch, byte[] payload) {
        return submit(true, lsn, epoch, payload);
    }

    private CompletableFuture<Long> submit(boolean given, long lsn, long epoch, byte[] payload) {
        lock.lock();
        try {
            if (closing) {
                return CompletableFuture.failedFuture(new IllegalStateException("log " + dir + " is closed"));
            }
            if (failure != null) {
                return CompletableFuture.failedFuture(new StrataException("log " + dir + " failed", failure));
            }
            if (epoch < highestEpoch) {
                return CompletableFuture.failedFuture(new StaleEpochException(epoch, highestEpoch));
            }
            if (given && lsn != nextLsn) {
                return CompletableFuture.failedFuture(new LsnGapException(nextLsn, lsn));
            }
            Request request = new Request(nextLsn++, epoch, payload, new CompletableFuture<>());
            highestEpoch = epoch;
            appendedLsn = request.lsn;
            pending.add(request);
            if (pending.size() == 1) {
                work.signal();
            }
            return request.future;
        } finally {
            lock.unlock();
        }
    }

    private void run() {
        ArrayList<Request> free = new ArrayList<>();
        while (true) {
            ArrayList<Request> batch;
            Throwable failed;
            lock.lock();
            try {
                while (pending.isEmpty() && !closing) {
                    work.awaitUninterruptibly();
                }
                if (pending.isEmpty()) {
                    break;
                }
                batch = pending;
                pending = free;
                failed = failure;
            } finally {
                lock.unlock();
            }
            if (failed == null) {
                commit(batch);
            } else {
                batch.forEach(r -> r.future.completeExceptionally(new StrataException("log " + dir + " failed", failed)));
            }
            batch.clear();
            free = batch;
        }
        closeActive();
    }

    private void commit(List<Request> batch) {
        try {
            for (Request request : batch) {
                int frame = LogRecordDescriptor.frameLength(request.payload.length);
                long size = activeBytes + buffered;
                if (active == null) {
                    openSegment(request.lsn);
                } else if (size > 0 && size + frame > segmentBytes) {
                    flush();
                    active.fdatasync();
                    fsyncs++;
                    active.close();
                    openSegment(request.lsn);
                }
                if (buffer.byteSize() - buffered < frame) {
                    flush();
                    if (buffer.byteSize() < frame) {
                        Arena grown = Arena.ofShared();
                        buffer = grown.allocate(frame);
                        bufferArena.close();
                        bufferArena = grown;
                    }
                }
                buffered += LogRecordDescriptor.encode(buffer, buffered, request.lsn, request.epoch, request.payload);
            }
            flush();
            active.fdatasync();
            fsyncs++;
            groups++;
            recordsWritten += batch.size();
        } catch (Throwable e) { // also Errors: a dead writer thread would leave futures hanging
            lock.lock();
            try {
                failure = e;
            } finally {
                lock.unlock();
            }
            batch.forEach(r -> r.future.completeExceptionally(new StrataException("log " + dir + " failed", e)));
            return;
        }
        durableLsn = batch.getLast().lsn;
        for (Request request : batch) {
            request.future.complete(request.lsn);
        }
    }

    private void flush() throws IOException {
        active.write(activeBytes, buffer.asSlice(0, buffered));
        activeBytes += buffered;
        bytesWritten += buffered;
        buffered = 0;
    }

    private void openSegment(long firstLsn) throws IOException {
        Path file = dir.resolve(SegmentFiles.name(firstLsn));
        active = NativeFile.createNew(file);
        activeBytes = 0;
        SegmentFiles.fsyncDirectory(dir);
        segments.put(firstLsn, file);
    }

    private void closeActive() {
        try {
            if (active != null) {
                active.close();
            }
        } catch (IOException ignored) {
            // everything acknowledged was fsynced; nothing left to lose
        } finally {
            bufferArena.close();
        }
    }

    /** Stops accepting appends, lets the writer commit everything queued, and waits for it to exit. */
    public void close() {
        lock.lock();
        try {
            closing = true;
            work.signal();
        } finally {
            lock.unlock();
        }
        if (Thread.currentThread() == thread) {
            return; // closed from a completion callback: the loop exits after this group
        }
        boolean interrupted = false;
        while (true) {
            try {
                thread.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    public long appendedLsn() {
        return appendedLsn;
    }

    public long durableLsn() {
        return durableLsn;
    }

    public long highestEpoch() {
        lock.lock();
        try {
            return highestEpoch;
        } finally {
            lock.unlock();
        }
    }

    public long fsyncs() {
        return fsyncs;
    }

    public long bytesWritten() {
        return bytesWritten;
    }

    public long groups() {
        return groups;
    }

    public long recordsWritten() {
        return recordsWritten;
    }
}
