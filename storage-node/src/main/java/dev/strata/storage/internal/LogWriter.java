package dev.strata.storage.internal;

import dev.strata.core.StrataException;
import dev.strata.storage.LsnGapException;
import dev.strata.storage.StaleEpochException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Group commit for one partition log: many appenders, one committer at a time (MPSC).
 *
 * <p>Appenders take {@link #lock} to check the epoch, assign the next LSN and encode the record's frame (its
 * bytes copied, its checksum computed) at the end of {@link #staging}, a native buffer, so LSN order is enqueue
 * order and a caller may reuse its payload as soon as {@code submit} returns. A caller that can hand its payload
 * over until the group is written ({@link #submitLent}: a write batch's native buffer of a megabyte or more) has
 * only the frame's header staged, and the group's write reads the payload where it is (one copy fewer on the
 * appender's thread, which out of memory and in a sequential load holds the tree's writer lock meanwhile); the
 * log gives it back through the caller's {@code release} once written. Whoever holds the commit role
 * ({@link #committing}) swaps the pending frames out for its own, emptied buffer, writes them with one
 * {@code pwrite} per segment they land in, calls {@code fdatasync} once, publishes {@link #durableLsn()}, completes
 * the futures in LSN order and gives the role back. While it syncs, the next group queues up in the other buffer.
 * Both buffers grow to the largest group; one grown past {@link #KEPT_BUFFER} and used to under a quarter is given
 * back after its group.
 *
 * <p>Who commits (leader/follower, as in RocksDB's write group, but without blocking appenders): {@code submit}
 * only enqueues and returns an {@link AppendFuture}. A thread that waits on it ({@code get}/{@code join}, also on
 * stages derived from it) while the log is idle takes the commit role and commits the queued group itself — a
 * lone synchronous committer pays no thread handoff in either direction. Records nobody waits for, and those that
 * queue behind a group in progress, are committed by the writer thread ({@code strata-log-writer-<dir>}), which
 * is signalled whenever records queue on an idle log. Waits from inside a completion callback never help (no
 * recursion, no re-entry). {@code submitAndCommit} does not signal the writer thread at all when its caller can
 * commit, and the writer thread takes a group only when it was asked to ({@code writerWanted}), so a synchronous
 * appender on an idle log always commits its own record.
 *
 * <p>Segments: a record that would push the active segment past {@code segmentBytes} goes to a new segment named
 * by its LSN; the old one is synced first and the directory after the new file is created. Space is preallocated:
 * after a group under {@link #LARGE_GROUP} bytes the committer keeps up to {@link #PREALLOCATE_CHUNK} bytes of durable
 * zeros written ahead of the records (written, not {@code fallocate}d: unwritten extents would need a metadata change
 * on first write), so most small groups overwrite allocated blocks and {@code fdatasync} flushes data only instead of
 * also committing a size change to the file system journal. Recovery reads an all-zero frame header followed only by
 * zeros as the end of a segment's records. A clean close cuts the active segment back to its records. A log on a
 * file system held in memory (tmpfs, ramfs: no journal, nothing to sync) is not preallocated: there the zeros only
 * doubled the bytes copied per record.
 *
 * <p>An I/O error fails the group and every later append: after a failed write or fsync the file's state is
 * unknown, and only reopening (recovery) can say what is durable.
 */
public final class LogWriter {
    /**
     * A record queued for the next group, {@code frame} bytes in the file: {@code [offset, +staged)} of the buffer it
     * was staged in (the whole frame, or only its header when the payload is {@code lent}: then the payload follows
     * the header in the file, and {@code release} gives it back once the group no longer reads it).
     */
    private record Request(long lsn, long offset, int staged, int frame, MemorySegment lent, Runnable release,
            CompletableFuture<Long> future) {}

    /** A growable native buffer of frames: the first {@link #used} bytes of {@link #bytes} hold them. */
    private static final class Frames {
        private Arena arena = Arena.ofShared();
        private MemorySegment bytes;
        private long used;

        Frames(long capacity) {
            bytes = arena.allocate(capacity);
        }

        /** Makes room for {@code extra} more bytes, keeping the frames. */
        void reserve(long extra) {
            if (used + extra > bytes.byteSize()) {
                Arena grown = Arena.ofShared();
                MemorySegment bigger = grown.allocate(Math.max(used + extra, 2 * bytes.byteSize()), 8);
                MemorySegment.copy(bytes, 0, bigger, 0, used);
                arena.close();
                arena = grown;
                bytes = bigger;
            }
        }

        /** Empties the buffer; one grown past {@code kept} that held under a quarter of its size is replaced. */
        void clear(long kept, long initial) {
            if (bytes.byteSize() > kept && used < bytes.byteSize() / 4) {
                arena.close();
                arena = Arena.ofShared();
                bytes = arena.allocate(Math.max(initial, 2 * used));
            }
            used = 0;
        }

        void close() {
            arena.close();
        }
    }

    /** Zeros kept written ahead of the records: one journaled sync per this many bytes of log. */
    public static final int PREALLOCATE_CHUNK = 1 << 20;
    /** A group this large is followed by no zeros: see {@link #preallocate}. */
    public static final int LARGE_GROUP = PREALLOCATE_CHUNK / 2;
    private static final int INITIAL_BUFFER = 1 << 20;
    /**
     * Smallest payload {@link #submitLent} leaves where it is: below this copying it into the staged frames costs
     * less than the separate {@code pwrite} a lent payload takes.
     */
    public static final int LEND_MIN = 64 << 10;
    /** A buffer larger than this is given back after a group that used under a quarter of it. */
    static final long KEPT_BUFFER = 16 << 20;
    /** Set while a thread completes append futures: waits inside those callbacks must not commit. */
    private static final ThreadLocal<Boolean> COMPLETING = new ThreadLocal<>();

    private final Path dir;
    private final long segmentBytes;
    private final boolean preallocates;
    private final ConcurrentSkipListMap<Long, Path> segments;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private final Thread thread;

    // guarded by lock
    private ArrayList<Request> pending = new ArrayList<>();
    /** The frames of {@link #pending}, in LSN order. */
    private Frames staging = new Frames(INITIAL_BUFFER);
    private long nextLsn;
    private long highestEpoch;
    private boolean committing;
    private boolean writerWanted; // the writer thread was signalled to take the queued group
    private boolean closing;
    private Throwable failure;

    private volatile long appendedLsn;
    private volatile long durableLsn;

    // used only by the thread holding the commit role (handed over under lock); counters read by stats()
    private NativeFile active;
    private long activeBytes;
    private long allocatedBytes;
    private long uncachedBytes; // the prefix of the active segment dropped from the page cache
    /** The committer's buffer: the frames of the group being written, else empty (swapped with {@link #staging}). */
    private Frames buffer = new Frames(INITIAL_BUFFER);
    private final Arena zerosArena = Arena.ofShared();
    private final MemorySegment zeros = zerosArena.allocate(PREALLOCATE_CHUNK / 4);
    private volatile long fsyncs;
    private volatile long bytesWritten;
    private volatile long groups;
    private volatile long recordsWritten;

    /**
     * Starts the writer thread, appending to the last of {@code segments} (already recovered) if there is one, at
     * {@code tailBytes} (the end of its records; anything after it is preallocated zeros).
     */
    public LogWriter(Path dir, long segmentBytes, ConcurrentSkipListMap<Long, Path> segments, long nextLsn,
            long highestEpoch, long tailBytes) throws IOException {
        this.dir = dir;
        this.segmentBytes = segmentBytes;
        this.preallocates = !inMemoryFileSystem(dir);
        this.segments = segments;
        this.nextLsn = nextLsn;
        this.highestEpoch = highestEpoch;
        this.appendedLsn = nextLsn - 1;
        this.durableLsn = nextLsn - 1;
        if (!segments.isEmpty()) {
            active = NativeFile.openReadWrite(segments.lastEntry().getValue());
            activeBytes = tailBytes;
            allocatedBytes = Math.max(tailBytes, active.size());
        }
        thread = Thread.ofPlatform().name("strata-log-writer-" + dir.getFileName()).daemon().unstarted(this::run);
        thread.start();
    }

    /**
     * Whether {@code dir} is on a file system held in memory ({@code tmpfs}, {@code ramfs}), where preallocating
     * saves no journal commit; false if its type cannot be read.
     */
    public static boolean inMemoryFileSystem(Path dir) {
        try {
            String type = Files.getFileStore(dir).type();
            return type.equals("tmpfs") || type.equals("ramfs");
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Owner path: enqueues the record {@code payload} under the next LSN. Its bytes are copied before this returns
     * (heap or native memory alike, readable by the calling thread), so the caller may reuse the segment at once.
     */
    public CompletableFuture<Long> submit(long epoch, MemorySegment payload) {
        return submit(false, 0, epoch, payload, null, true);
    }

    /**
     * As {@link #submit}, for a payload the caller hands over until the log no longer reads it: the log calls
     * {@code release} exactly once, after the record's group was written (or failed), or before this returns if the
     * record was refused, copied (a payload under {@link #LEND_MIN} bytes, or one not in native memory that every
     * thread may read) or this throws. The caller must not change the payload before then.
     */
    public CompletableFuture<Long> submitLent(long epoch, MemorySegment payload, Runnable release) {
        return submit(false, 0, epoch, payload, Objects.requireNonNull(release, "release"), true);
    }

    /** As {@link #submitAndCommit}, for a lent payload (see {@link #submitLent}). */
    public CompletableFuture<Long> submitLentAndCommit(long epoch, MemorySegment payload, Runnable release) {
        CompletableFuture<Long> future = submit(false, 0, epoch, payload, Objects.requireNonNull(release, "release"),
                !canHelp());
        if (!future.isDone()) {
            help();
        }
        return future;
    }

    /**
     * Owner path for a caller that waits right away: enqueues the record without waking the writer thread, then
     * commits the queued group on the calling thread if no group is in progress (deterministically, instead of
     * racing the woken writer thread for it). If a group is in progress its committer hands the record to the
     * writer thread; called from a completion stage or the writer thread, it wakes the writer as {@link #submit}
     * does. The returned future therefore always completes, waited on or not.
     */
    public CompletableFuture<Long> submitAndCommit(long epoch, MemorySegment payload) {
        CompletableFuture<Long> future = submit(false, 0, epoch, payload, null, !canHelp());
        if (!future.isDone()) {
            help();
        }
        return future;
    }

    /** Replica path: enqueues a record whose LSN must be exactly the next one. */
    public CompletableFuture<Long> submitAt(long lsn, long epoch, MemorySegment payload) {
        return submit(true, lsn, epoch, payload, null, true);
    }

    /**
     * {@code release}: a lent payload's (see {@link #submitLent}), null for one to copy; run here unless the request
     * was queued with the payload lent.
     */
    private CompletableFuture<Long> submit(boolean given, long lsn, long epoch, MemorySegment payload,
            Runnable release, boolean wake) {
        boolean lend = release != null && lendable(payload);
        CompletableFuture<Long> future;
        try {
            future = enqueue(given, lsn, epoch, payload, lend ? release : null, wake);
        } catch (RuntimeException | Error e) {
            if (release != null) { // nothing was queued
                release.run();
            }
            throw e;
        }
        if (release != null && !lend) {
            release.run(); // copied
        }
        return future;
    }

    /**
     * Whether a payload can be left where it is until its group is written: large enough to be worth a
     * {@code pwrite} of its own, and native memory that the thread writing the group (the writer thread or a
     * waiting appender) can read.
     */
    private boolean lendable(MemorySegment payload) {
        // readable by this thread and by the writer thread, two threads: not confined to one, so readable by any
        Thread self = Thread.currentThread();
        return payload.byteSize() >= LEND_MIN && payload.isNative() && self != thread
                && payload.isAccessibleBy(self) && payload.isAccessibleBy(thread);
    }

    /**
     * Queues the record; {@code release} non-null: the payload is lent, and given back at once if refused. Throws
     * only before anything was queued.
     */
    private CompletableFuture<Long> enqueue(boolean given, long lsn, long epoch, MemorySegment payload,
            Runnable release, boolean wake) {
        boolean lend = release != null;
        CompletableFuture<Long> refused = null;
        int frame = LogRecordDescriptor.frameLength(Math.toIntExact(payload.byteSize()));
        int staged = lend ? LogRecordDescriptor.HEADER_LENGTH : frame;
        Request request;
        lock.lock();
        try {
            if (closing) {
                refused = CompletableFuture.failedFuture(new IllegalStateException("log " + dir + " is closed"));
            } else if (failure != null) {
                refused = CompletableFuture.failedFuture(new StrataException("log " + dir + " failed", failure));
            } else if (epoch < highestEpoch) {
                refused = CompletableFuture.failedFuture(new StaleEpochException(epoch, highestEpoch));
            } else if (given && lsn != nextLsn) {
                refused = CompletableFuture.failedFuture(new LsnGapException(nextLsn, lsn));
            }
            if (refused != null) {
                if (release != null) {
                    release.run();
                }
                return refused;
            }
            staging.reserve(staged);
            long offset = staging.used;
            // a payload this thread cannot read throws here, before anything changed
            if (lend) {
                LogRecordDescriptor.encodeHeader(staging.bytes, offset, nextLsn, epoch, payload);
            } else {
                LogRecordDescriptor.encode(staging.bytes, offset, nextLsn, epoch, payload);
            }
            staging.used += staged;
            request = new Request(nextLsn++, offset, staged, frame, lend ? payload : null, release,
                    new AppendFuture<>());
            highestEpoch = epoch;
            appendedLsn = request.lsn;
            pending.add(request);
            if (wake && !committing && pending.size() == 1) {
                wakeWriter();
            } // else the committer in progress signals when it hands the commit role back, or the caller commits
        } finally {
            lock.unlock();
        }
        return request.future;
    }

    /**
     * An append future (and every stage derived from it) whose waiters first try to commit the queued group on
     * their own thread, so a synchronous appender on an idle log need not wake the writer thread and be woken back.
     */
    private final class AppendFuture<T> extends CompletableFuture<T> {
        @Override
        public <U> CompletableFuture<U> newIncompleteFuture() {
            return new AppendFuture<>();
        }

        @Override
        public T get() throws InterruptedException, ExecutionException {
            if (!isDone()) {
                help();
            }
            return super.get();
        }

        @Override
        public T get(long timeout, TimeUnit unit) throws InterruptedException, ExecutionException, TimeoutException {
            if (!isDone()) {
                help();
            }
            return super.get(timeout, unit);
        }

        @Override
        public T join() {
            if (!isDone()) {
                help();
            }
            return super.join();
        }
    }

    /** Commits the queued records on the calling thread if no group is in progress. */
    private void help() {
        if (!canHelp()) {
            return;
        }
        ArrayList<Request> batch;
        Throwable failed;
        lock.lock();
        try {
            if (committing || pending.isEmpty()) {
                return;
            }
            committing = true;
            batch = takeGroup();
            failed = failure;
        } finally {
            lock.unlock();
        }
        commitGroup(batch, failed);
    }

    /**
     * Called with the lock held by the thread taking the commit role: the pending records, whose frames are now in
     * {@link #buffer}; appenders go on in the committer's emptied buffer.
     */
    private ArrayList<Request> takeGroup() {
        ArrayList<Request> batch = pending;
        pending = new ArrayList<>();
        Frames full = staging;
        staging = buffer;
        buffer = full;
        return batch;
    }

    /** Gives a lent payload back; a failing release must not keep the group's futures from completing. */
    private static void release(Runnable release) {
        try {
            release.run();
        } catch (RuntimeException e) {
            Thread t = Thread.currentThread();
            t.getUncaughtExceptionHandler().uncaughtException(t, e);
        }
    }

    /** Called with the lock held. */
    private void wakeWriter() {
        writerWanted = true;
        work.signal();
    }

    /** False on the writer thread and inside completion stages, which must not take the commit role. */
    private boolean canHelp() {
        return COMPLETING.get() == null && Thread.currentThread() != thread;
    }

    private void run() {
        while (true) {
            ArrayList<Request> batch;
            Throwable failed;
            lock.lock();
            try {
                while (committing || pending.isEmpty() || !writerWanted) {
                    if (closing && !committing && pending.isEmpty()) {
                        break;
                    }
                    if (pending.isEmpty()) {
                        writerWanted = false; // a waiting caller took the group it was signalled for
                    }
                    work.awaitUninterruptibly();
                }
                if (pending.isEmpty()) {
                    break; // closing, and nothing queued or in progress
                }
                writerWanted = false;
                committing = true;
                batch = takeGroup();
                failed = failure;
            } finally {
                lock.unlock();
            }
            commitGroup(batch, failed);
        }
        closeActive();
    }

    /**
     * Runs one group on the calling thread, which holds the commit role: write and sync it (unless the log already
     * {@code failed}), complete its futures in LSN order, then give the role back and wake the writer thread if
     * more queued meanwhile (or the log is closing).
     */
    private void commitGroup(List<Request> batch, Throwable failed) {
        Throwable error = failed != null ? failed : writeAndSync(batch);
        buffer.clear(KEPT_BUFFER, INITIAL_BUFFER); // written, or never will be
        COMPLETING.set(Boolean.TRUE);
        try {
            for (Request request : batch) {
                if (request.release != null) {
                    release(request.release);
                }
            }
            if (error == null) {
                for (Request request : batch) {
                    request.future.complete(request.lsn);
                }
            } else {
                for (Request request : batch) {
                    request.future.completeExceptionally(new StrataException("log " + dir + " failed", error));
                }
            }
        } finally {
            COMPLETING.remove();
            lock.lock();
            try {
                committing = false;
                if (!pending.isEmpty() || closing) {
                    wakeWriter();
                }
            } finally {
                lock.unlock();
            }
        }
    }

    /** Writes and syncs a group (its frames in {@link #buffer}); on success publishes its last LSN as durable. */
    private Throwable writeAndSync(List<Request> batch) {
        try {
            long from = 0; // the group's staged bytes before this offset are written
            long groupBytes = 0;
            for (Request request : batch) {
                long size = activeBytes + request.offset - from;
                if (active == null) {
                    openSegment(request.lsn);
                } else if (size > 0 && size + request.frame > segmentBytes) {
                    write(from, request.offset);
                    from = request.offset;
                    active.fdatasync();
                    fsyncs++;
                    active.dontNeed(uncachedBytes, allocatedBytes - uncachedBytes);
                    active.close();
                    openSegment(request.lsn);
                }
                if (request.lent != null) { // its staged header, then the payload from where it is
                    write(from, request.offset + request.staged);
                    from = request.offset + request.staged;
                    append(request.lent);
                }
                groupBytes += request.frame;
            }
            write(from, buffer.used);
            preallocate(groupBytes);
            active.fdatasync();
            fsyncs++;
            dropSynced();
            groups++;
            recordsWritten += batch.size();
        } catch (Throwable e) { // also Errors: a committer that dies silently would leave futures hanging
            lock.lock();
            try {
                if (failure == null) {
                    failure = e;
                }
            } finally {
                lock.unlock();
            }
            return e;
        }
        durableLsn = batch.getLast().lsn;
        return null;
    }

    /** Appends the group's staged bytes {@code [from, to)} of {@link #buffer} to the active segment. */
    private void write(long from, long to) throws IOException {
        if (to > from) {
            append(buffer.bytes.asSlice(from, to - from));
        }
    }

    private void append(MemorySegment bytes) throws IOException {
        active.write(activeBytes, bytes);
        activeBytes += bytes.byteSize();
        bytesWritten += bytes.byteSize();
        allocatedBytes = Math.max(allocatedBytes, activeBytes);
    }

    /**
     * Once fewer than half a chunk of zeros is left ahead of the records, writes zeros up to a chunk ahead (never
     * past the segment's size), to be synced with the group. Later groups then overwrite allocated blocks. Not after
     * a group of {@link #LARGE_GROUP} bytes or more: groups that large outgrow the zeros ahead anyway, so the sync
     * commits a size change whatever is preallocated, and the zeros only added bytes to write (a 20M-key insert
     * load logs ~3 MB groups: 4 GB of zeros for 12 GB of records).
     */
    private void preallocate(long groupBytes) throws IOException {
        if (!preallocates || groupBytes >= LARGE_GROUP) {
            return;
        }
        long limit = Math.max(segmentBytes, activeBytes); // an oversized record's segment ends with it
        if (allocatedBytes - activeBytes >= PREALLOCATE_CHUNK / 2 || allocatedBytes >= limit) {
            return;
        }
        long target = Math.min(limit, activeBytes + PREALLOCATE_CHUNK);
        for (long at = allocatedBytes; at < target; ) {
            long n = Math.min(zeros.byteSize(), target - at);
            active.write(at, zeros.asSlice(0, n));
            at += n;
        }
        allocatedBytes = target;
    }

    /** Synced records are dropped from the page cache once this many bytes of them are cached. */
    private static final long UNCACHE_BYTES = 1 << 20;

    /**
     * Drops the synced records of the active segment from the page cache, in steps of {@link #UNCACHE_BYTES}. Only
     * recovery and a replica catching up read them again, while every byte appended would otherwise take a place
     * in the cache that the page file's images need: out of memory, with a memory limit that counts the cache, an
     * insert load logs several times its data, and the log pushed the images its misses read out of the cache.
     */
    private void dropSynced() {
        long upTo = activeBytes & ~(UNCACHE_BYTES - 1);
        if (upTo > uncachedBytes) {
            active.dontNeed(uncachedBytes, upTo - uncachedBytes);
            uncachedBytes = upTo;
        }
    }

    private void openSegment(long firstLsn) throws IOException {
        Path file = dir.resolve(SegmentFiles.name(firstLsn));
        active = NativeFile.createNew(file);
        activeBytes = 0;
        allocatedBytes = 0;
        uncachedBytes = 0;
        SegmentFiles.fsyncDirectory(dir);
        segments.put(firstLsn, file);
    }

    /** On the writer thread once no group is left: cuts the preallocated zeros off a healthy log, closes the file. */
    private void closeActive() {
        try {
            if (active != null) {
                boolean healthy;
                lock.lock();
                try {
                    healthy = failure == null;
                } finally {
                    lock.unlock();
                }
                try {
                    if (healthy && allocatedBytes > activeBytes) {
                        active.truncate(activeBytes);
                        active.fsync();
                    }
                } finally {
                    active.close();
                }
            }
        } catch (IOException ignored) {
            // everything acknowledged was synced; recovery reads a zero tail as the end of the records
        } finally {
            buffer.close();
            staging.close(); // closing: nothing is appended any more
            zerosArena.close();
        }
    }

    /** Stops accepting appends, lets the writer commit everything queued, and waits for it to exit. */
    public void close() {
        lock.lock();
        try {
            closing = true;
            wakeWriter();
        } finally {
            lock.unlock();
        }
        if (!canHelp()) {
            return; // closed from a completion callback: the writer exits once this group has finished
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
