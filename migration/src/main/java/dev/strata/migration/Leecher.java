package dev.strata.migration;

import dev.strata.migration.internal.ChunkMap;
import dev.strata.migration.internal.FrameReader;
import dev.strata.migration.internal.FrameWriter;
import dev.strata.migration.internal.ProtocolException;
import dev.strata.migration.internal.Wire;
import dev.strata.nbd.Backend;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The destination side of a live migration. {@link #open} connects and negotiates (version, size,
 * chunk size); {@link #migrate()} runs phase 1 (round 0 pulls every chunk, further pre-copy rounds
 * re-pull what the writer dirtied meanwhile) until the estimated final transfer fits
 * {@link LeecherConfig#maxDowntime()} (or rounds run out, or {@link #requestFinalize()} was called),
 * then finalizes: the seeder suspends, sends the last dirty set and fences itself at epoch+1, and
 * this leecher starts serving through {@link #backend()}. Chunks it still lacks are pulled on
 * demand by reads and writes, and in the background (post-copy), until {@link #awaitComplete}.
 *
 * <p>A cut connection is re-established (HELLO with the migration id and the last generation
 * received) and the step in progress is retried: a round is simply repeated, a finalize is
 * idempotent on the seeder; a finalize cut before the fence was rolled back by the seeder, so the
 * leecher goes back to pre-copy rounds.
 *
 * <p>Threads: the caller of {@link #migrate()}; {@code migrate-leecher-rx-N} per connection
 * (applies arriving chunks); {@code migrate-leecher-postcopy} after finalize.
 */
public final class Leecher implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.strata.migration.Leecher");

    private final InetSocketAddress seeder;
    private final LeecherConfig config;
    private final MigrationProgress progress = new MigrationProgress();
    private final ReentrantLock connLock = new ReentrantLock();
    private final LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private final View view = new View();
    private final long startNanos = System.nanoTime();
    private Backend local;
    private ChunkMap have;
    private long size;
    private int chunkSize;
    private long migrationId;
    private volatile Conn conn;
    private volatile long lastReceivedGen;
    private volatile long epoch;
    private volatile boolean serving;
    private volatile boolean finalizeRequested;
    private volatile boolean closed;
    private volatile long servingAt;
    private volatile long rttNanos;
    private int connCount;
    private int reconnects;
    private long finalChunks;
    private Thread postCopy;

    private Leecher(InetSocketAddress seeder, LeecherConfig config) {
        this.seeder = seeder;
        this.config = config;
    }

    /** Connects to the seeder and negotiates; allocates the local backend of the region's size. */
    public static Leecher open(InetSocketAddress seeder, LeecherConfig config) throws IOException {
        Leecher l = new Leecher(seeder, config);
        try {
            l.connLock.lock();
            try {
                l.conn = l.connect();
            } finally {
                l.connLock.unlock();
            }
            return l;
        } catch (IOException | RuntimeException e) {
            l.close();
            throw e;
        }
    }

    /** The region as this leecher serves it; usable once {@link #serving()}. */
    public Backend backend() {
        return view;
    }

    public boolean serving() {
        return serving;
    }

    /** The epoch this leecher serves at (after finalize) or the seeder's epoch (before). */
    public long epoch() {
        return epoch;
    }

    public long size() {
        return size;
    }

    public int chunkSize() {
        return chunkSize;
    }

    public MigrationProgress progress() {
        return progress;
    }

    /** {@link System#nanoTime()} when this leecher started serving (0 before). */
    public long servingAtNanos() {
        return servingAt;
    }

    /** The smallest round trip seen (handshake, and rounds, which each cost at least one). */
    public Duration rtt() {
        return Duration.ofNanos(rttNanos);
    }

    /** Makes {@link #migrate()} finalize after the round in progress, whatever the estimate says. */
    public void requestFinalize() {
        finalizeRequested = true;
    }

    /** Waits until every chunk is local (post-copy done). */
    public boolean awaitComplete(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (int c = have.nextMissing(0); c >= 0; c = have.nextMissing(c)) {
            long left = deadline - System.nanoTime();
            if (left <= 0 || !have.await(c, Duration.ofNanos(left))) {
                return false;
            }
        }
        return true;
    }

    // ------------------------------------------------------------------ phases

    /**
     * Phase 1 then phase 2; returns once this leecher serves (post-copy may continue in the
     * background). Idempotent once serving.
     */
    public MigrationReport migrate() throws IOException {
        int round = 0;
        boolean roundZeroDone = false;
        boolean converged = false;
        double bandwidth = 0;
        long pendingEpoch = 0;
        long seederSuspend = 0;
        long finalizeWait = 0;
        long reconnectDeadline = 0;
        long prevStale = -1;
        while (!serving) {
            if (closed) {
                throw new MigrationException("leecher closed");
            }
            try {
                Conn c = ensureConnected();
                reconnectDeadline = 0;
                if (c.fenced) { // our finalize fenced it before the cut: retry it (idempotent)
                    if (pendingEpoch != c.epoch) {
                        throw new ProtocolException(Wire.E_STALE_EPOCH, "seeder was fenced at epoch " + c.epoch
                                + " by another migration");
                    }
                } else if (!finalizeRequested && round < config.maxRounds()) {
                    progress.phase(MigrationProgress.Phase.PRE_COPY);
                    long t0 = System.nanoTime();
                    c.out.round(round);
                    c.out.flush();
                    RoundEnd re = await(c, RoundEnd.class);
                    double secs = (System.nanoTime() - t0) / 1e9;
                    rttNanos = Math.min(rttNanos, System.nanoTime() - t0); // a round costs at least one RTT
                    if (re.bytes >= (4L << 20) || bandwidth == 0 && re.bytes > 0) {
                        // only bulk rounds measure bandwidth; small ones are latency-bound
                        double bw = re.bytes / Math.max(1e-4, secs - rttNanos / 1e9);
                        bandwidth = bandwidth == 0 ? bw : 0.5 * bandwidth + 0.5 * bw;
                    }
                    round++;
                    progress.round(re.staleSent, re.dirtyRate);
                    roundZeroDone |= re.unsent == 0;
                    double rtt = rttNanos / 1e9;
                    // final set ≈ stale now + what the writer dirties until FINALIZE arrives (one RTT + slack)
                    double finalBytes = (re.staleSent + re.dirtyRate * (rtt + 0.005)) * chunkSize;
                    double estimate = bandwidth == 0 ? Double.MAX_VALUE : finalBytes / bandwidth + rtt / 2;
                    LOG.log(System.Logger.Level.DEBUG, String.format("round %d: %d chunks, %.1f ms, stale %d, "
                                    + "unsent %d, dirty %.0f/s, estimate %.2f ms", round - 1, re.chunks, secs * 1e3,
                            re.staleSent, re.unsent, re.dirtyRate, estimate * 1e3));
                    // Stop when the final set fits comfortably (a quarter of the budget), or fits and another
                    // round would no longer halve it (the writer dirties as fast as rounds shrink it).
                    double budget = config.maxDowntime().toNanos() / 1e9;
                    boolean shrinking = prevStale < 0 || re.staleSent < prevStale / 2;
                    prevStale = roundZeroDone ? re.staleSent : -1;
                    if (roundZeroDone && (estimate <= budget / 4 || estimate <= budget && !shrinking)) {
                        converged = true;
                        finalizeRequested = true;
                    }
                    continue;
                }
                // phase 2
                progress.phase(MigrationProgress.Phase.FINALIZING);
                if (pendingEpoch == 0) {
                    pendingEpoch = c.epoch + 1;
                }
                long before = progress.chunks();
                long sentAt = System.nanoTime();
                c.out.finalizeAt(pendingEpoch);
                c.out.flush();
                FinalEnd fe = await(c, FinalEnd.class);
                servingAt = System.nanoTime();
                epoch = fe.epoch;
                serving = true;
                finalChunks += progress.chunks() - before;
                seederSuspend = fe.suspendNanos;
                finalizeWait = servingAt - sentAt;
            } catch (ConnectionLost e) {
                long now = System.nanoTime();
                if (reconnectDeadline == 0) {
                    reconnectDeadline = now + config.reconnectTimeout().toNanos();
                } else if (now > reconnectDeadline) {
                    progress.phase(MigrationProgress.Phase.FAILED);
                    throw new MigrationException("seeder unreachable for " + config.reconnectTimeout(), e);
                }
                LOG.log(System.Logger.Level.INFO, "migration connection lost (" + e.getMessage() + "); reconnecting");
                backoff(now, reconnectDeadline);
            } catch (ProtocolException e) {
                progress.phase(MigrationProgress.Phase.FAILED);
                throw new MigrationException("migration refused: " + e.getMessage(), e);
            }
        }
        long missing = have.missing();
        progress.present(have.presentCount());
        if (missing > 0) {
            progress.phase(MigrationProgress.Phase.POST_COPY);
            postCopy = Thread.ofPlatform().name("migrate-leecher-postcopy").daemon().start(this::postCopyLoop);
        } else {
            finish();
        }
        Duration downtime = Duration.ofNanos(seederSuspend + rttNanos / 2);
        return new MigrationReport(size, progress.bytes(), progress.chunks(), round, finalChunks, missing,
                Duration.ofNanos(seederSuspend), downtime, Duration.ofNanos(finalizeWait),
                Duration.ofNanos(servingAt - startNanos), reconnects, epoch, converged);
    }

    private static void backoff(long now, long deadline) throws InterruptedIOException {
        long pause = Math.min(200_000_000L, Math.max(0, deadline - now));
        try {
            TimeUnit.NANOSECONDS.sleep(Math.min(pause, 50_000_000L)); // retry pacing, not synchronization
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while reconnecting");
        }
    }

    /** Background post-copy: asks for every missing chunk, reconnecting after cuts, then says BYE. */
    private void postCopyLoop() {
        long deadline = 0;
        while (!closed && have.missing() > 0) {
            try {
                Conn c = ensureConnected();
                deadline = 0;
                for (int first = have.nextMissing(0); first >= 0; ) {
                    int end = first;
                    while (end < have.chunks() && !have.present(end) && end - first < 4096) {
                        end++;
                    }
                    c.out.get(first, end - first, false);
                    first = end < have.chunks() ? have.nextMissing(end) : -1;
                }
                c.out.flush();
                while (have.missing() > 0) {
                    Event e = events.poll(200, TimeUnit.MILLISECONDS);
                    if (e instanceof Dead d && d.conn == c) {
                        throw new ConnectionLost(d.cause);
                    }
                    if (!c.alive) {
                        throw new ConnectionLost(null);
                    }
                }
            } catch (ConnectionLost | IOException e) {
                long now = System.nanoTime();
                if (deadline == 0) {
                    deadline = now + config.reconnectTimeout().toNanos();
                }
                if (closed) {
                    return;
                }
                if (now > deadline) {
                    LOG.log(System.Logger.Level.ERROR, "post-copy cannot reach the seeder; "
                            + have.missing() + " chunks missing: " + e);
                    progress.phase(MigrationProgress.Phase.FAILED);
                    return;
                }
                try {
                    backoff(now, deadline);
                } catch (InterruptedIOException ie) {
                    return;
                }
            } catch (InterruptedException e) {
                return;
            }
        }
        if (!closed) {
            finish();
        }
    }

    private void finish() {
        progress.present(have.presentCount());
        progress.phase(MigrationProgress.Phase.DONE);
        Conn c = conn;
        if (c != null && c.alive) {
            try {
                c.out.bye();
                c.out.flush();
            } catch (IOException ignored) {
                // the seeder will see the close
            }
            c.close();
        }
    }

    // ------------------------------------------------------------------ connections

    private record RoundEnd(Conn conn, int round, long chunks, long bytes, long staleSent, long unsent,
                            double dirtyRate) implements Event {}

    private record FinalEnd(Conn conn, long epoch, long chunks, long suspendNanos, long unsent) implements Event {}

    private record Failed(Conn conn, ProtocolException error) implements Event {}

    private record Dead(Conn conn, IOException cause) implements Event {}

    private sealed interface Event permits RoundEnd, FinalEnd, Failed, Dead {
        Conn conn();
    }

    private static final class ConnectionLost extends Exception {
        ConnectionLost(IOException cause) {
            super(cause == null ? "connection closed" : cause.toString(), cause);
        }
    }

    private <T extends Event> T await(Conn c, Class<T> type) throws ConnectionLost, ProtocolException {
        long deadline = System.nanoTime() + config.ioTimeout().toNanos();
        while (true) {
            Event e;
            try {
                e = events.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                c.close();
                throw new ConnectionLost(new InterruptedIOException("interrupted"));
            }
            if (e == null) {
                c.close();
                throw new ConnectionLost(new IOException("no answer within " + config.ioTimeout()));
            }
            if (e.conn() != c) {
                continue; // from a connection already replaced
            }
            if (type.isInstance(e)) {
                return type.cast(e);
            }
            switch (e) {
                case Dead d -> throw new ConnectionLost(d.cause());
                case Failed f -> throw f.error();
                default -> throw new ConnectionLost(new ProtocolException(Wire.E_BAD_FRAME,
                        "unexpected " + e.getClass().getSimpleName()));
            }
        }
    }

    private Conn ensureConnected() throws ConnectionLost, ProtocolException {
        Conn c = conn;
        if (c != null && c.alive) {
            return c;
        }
        connLock.lock();
        try {
            c = conn;
            if (c != null && c.alive) {
                return c;
            }
            if (closed) {
                throw new ConnectionLost(new IOException("leecher closed"));
            }
            try {
                conn = connect();
                reconnects++;
                progress.reconnected();
                return conn;
            } catch (ProtocolException e) {
                throw e;
            } catch (IOException e) {
                throw new ConnectionLost(e);
            }
        } finally {
            connLock.unlock();
        }
    }

    /** Connects and handshakes; caller holds {@link #connLock}. */
    private Conn connect() throws IOException {
        Socket s = config.tls() == null ? new Socket() : config.tls().getSocketFactory().createSocket();
        Conn c = null;
        try {
            s.setTcpNoDelay(true);
            s.setReceiveBufferSize(4 << 20);
            s.connect(seeder, (int) Math.min(Integer.MAX_VALUE, config.ioTimeout().toMillis()));
            s.setSoTimeout((int) Math.min(Integer.MAX_VALUE, config.ioTimeout().toMillis()));
            c = new Conn(s, ++connCount);
            long t0 = System.nanoTime();
            c.out.hello(config.minVersion(), config.maxVersion(), migrationId, lastReceivedGen, Wire.MAX_CHUNK,
                    serving ? 1 : 0);
            c.out.flush();
            int type = c.in.next();
            if (type == Wire.ERROR) {
                throw c.in.error();
            }
            if (type != Wire.WELCOME) {
                throw new ProtocolException(Wire.E_BAD_FRAME, "expected WELCOME, got " + Wire.typeName(type));
            }
            rttNanos = rttNanos == 0 ? System.nanoTime() - t0 : Math.min(rttNanos, System.nanoTime() - t0);
            ByteBuffer p = c.in.payload();
            int version = p.getShort(0) & 0xffff;
            long sz = p.getLong(2);
            int chunk = p.getInt(10);
            c.epoch = p.getLong(14);
            long id = p.getLong(22);
            c.fenced = p.get(30) != 0;
            if (version < config.minVersion() || version > config.maxVersion()) {
                throw new ProtocolException(Wire.E_VERSION, "seeder chose version " + version);
            }
            if (!Wire.validChunkSize(chunk) || sz <= 0 || (sz + chunk - 1) / chunk > Integer.MAX_VALUE - 8) {
                throw new ProtocolException(Wire.E_BAD_FRAME, "bad region geometry: size " + sz + ", chunk " + chunk);
            }
            if (migrationId == 0) {
                size = sz;
                chunkSize = chunk;
                migrationId = id;
                epoch = c.epoch;
                have = new ChunkMap((int) ((sz + chunk - 1) / chunk));
                local = config.local().apply(sz);
                if (local.size() < sz) {
                    throw new IOException("local backend of " + local.size() + " bytes for a region of " + sz);
                }
                progress.sized(sz, have.chunks());
            } else if (sz != size || chunk != chunkSize || id != migrationId) {
                throw new ProtocolException(Wire.E_UNKNOWN_MIGRATION, "seeder now serves a different migration");
            }
            c.in.allowChunks(chunk);
            s.setSoTimeout(0); // liveness is judged by await()'s deadline
            Conn started = c;
            c.rx = Thread.ofPlatform().name("migrate-leecher-rx-" + c.id).daemon().start(() -> receive(started));
            return c;
        } catch (IOException | RuntimeException e) {
            if (c != null) {
                c.close();
            } else {
                s.close();
            }
            throw e;
        }
    }

    private final class Conn {
        final Socket socket;
        final int id;
        final FrameReader in;
        final FrameWriter out;
        volatile boolean alive = true;
        long epoch;
        boolean fenced;
        Thread rx;

        Conn(Socket socket, int id) throws IOException {
            this.socket = socket;
            this.id = id;
            this.in = new FrameReader(new BufferedInputStream(socket.getInputStream(), 256 * 1024));
            this.out = new FrameWriter(socket.getOutputStream());
        }

        void close() {
            alive = false;
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    /** The rx thread: applies chunks in arrival (= generation) order, posts control frames as events. */
    private void receive(Conn c) {
        try {
            while (true) {
                int type = c.in.next();
                ByteBuffer p = c.in.payload();
                switch (type) {
                    case Wire.CHUNK -> {
                        long index = p.getLong(0);
                        long gen = p.getLong(8);
                        int len = c.in.length() - Wire.CHUNK_HEADER;
                        if (index < 0 || index >= have.chunks()
                                || len != Math.min(chunkSize, size - index * chunkSize) || gen <= lastReceivedGen) {
                            throw new ProtocolException(Wire.E_BAD_FRAME, "bad CHUNK " + index + " gen " + gen
                                    + " of " + len + " bytes");
                        }
                        apply((int) index, c.in.array(), len);
                        lastReceivedGen = gen;
                        progress.moved(len);
                    }
                    case Wire.ROUND_END -> events.add(new RoundEnd(c, p.getInt(0), p.getLong(4), p.getLong(12),
                            p.getLong(20), p.getLong(28), p.getDouble(36)));
                    case Wire.FINAL_END -> events.add(new FinalEnd(c, p.getLong(0), p.getLong(8), p.getLong(16),
                            p.getLong(24)));
                    case Wire.ERROR -> {
                        events.add(new Failed(c, c.in.error()));
                        return;
                    }
                    default -> throw new ProtocolException(Wire.E_BAD_FRAME, "unexpected " + Wire.typeName(type));
                }
            }
        } catch (IOException e) {
            events.add(new Dead(c, e));
        } finally {
            c.close();
        }
    }

    private void apply(int c, byte[] frame, int len) throws IOException {
        ReentrantLock lock = have.lock(c);
        lock.lock();
        try {
            if (serving && have.present(c)) {
                return; // this leecher owns the region now; its own writes win
            }
            local.writeAt((long) c * chunkSize, MemorySegment.ofArray(frame).asSlice(Wire.CHUNK_HEADER, len));
            have.setPresent(c);
        } finally {
            lock.unlock();
        }
        if ((c & 255) == 0) {
            progress.present(have.presentCount());
        }
    }

    /** Blocks until chunk {@code c} is local, asking the seeder for it (urgent) as needed. */
    private void ensurePresent(int c) throws IOException {
        if (have.present(c)) {
            return;
        }
        long deadline = System.nanoTime() + config.ioTimeout().toNanos();
        while (!have.present(c)) {
            if (closed) {
                throw new IOException("leecher closed");
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("chunk " + c + " not received from the seeder within " + config.ioTimeout());
            }
            Conn k = conn;
            if (k != null && k.alive) {
                try {
                    k.out.get(c, 1, true);
                    k.out.flush();
                } catch (IOException ignored) {
                    // the post-copy thread reconnects; ask again then
                }
            }
            try {
                have.await(c, Duration.ofSeconds(1));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while pulling chunk " + c);
            }
        }
    }

    /** Cuts the connection, stops post-copy and closes the local backend. Idempotent. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        Conn c = conn;
        if (c != null) {
            c.close();
            join(c.rx);
        }
        join(postCopy);
        if (local != null) {
            local.close();
        }
    }

    private static void join(Thread t) {
        if (t != null && t != Thread.currentThread()) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ------------------------------------------------------------------ the serving view

    private final class View implements Backend {
        @Override
        public long size() {
            return size;
        }

        private void check() throws IOException {
            if (!serving) {
                throw new IOException("leecher is not serving yet (the region still belongs to the seeder)");
            }
            if (closed) {
                throw new IOException("leecher closed");
            }
        }

        @Override
        public void readAt(long offset, MemorySegment dst) throws IOException {
            check();
            long end = offset + dst.byteSize();
            for (long c = offset / chunkSize; c * chunkSize < end; c++) {
                ensurePresent((int) c);
            }
            local.readAt(offset, dst);
        }

        @Override
        public void writeAt(long offset, MemorySegment src) throws IOException {
            check();
            long end = offset + src.byteSize();
            for (long c = offset / chunkSize; c * chunkSize < end; c++) {
                long cs = c * chunkSize;
                long ce = Math.min(size, cs + chunkSize);
                long from = Math.max(offset, cs);
                long to = Math.min(end, ce);
                boolean whole = from == cs && to == ce;
                if (!whole) {
                    ensurePresent((int) c);
                }
                ReentrantLock lock = have.lock((int) c);
                lock.lock();
                try {
                    local.writeAt(from, src.asSlice(from - offset, to - from));
                    have.setPresent((int) c);
                } finally {
                    lock.unlock();
                }
            }
        }

        @Override
        public void sync() throws IOException {
            check();
            local.sync();
        }

        /** The leecher owns the local backend; closing the view does nothing. */
        @Override
        public void close() {}
    }
}
