package dev.strata.migration;

import dev.strata.migration.internal.DirtyMap;
import dev.strata.migration.internal.FrameReader;
import dev.strata.migration.internal.FrameWriter;
import dev.strata.migration.internal.ProtocolException;
import dev.strata.migration.internal.Wire;
import dev.strata.migration.internal.WriteGate;
import dev.strata.nbd.Backend;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLServerSocket;

/**
 * The source side of a live migration. Wraps a {@link Backend}; the application reads and writes
 * through {@link #backend()}, whose writes are tracked chunk by chunk ({@code DirtyMap}) and can be
 * suspended and finally fenced ({@code WriteGate}). One leecher at a time connects; it may
 * reconnect and resume the same migration after a cut.
 *
 * <pre>
 *   LIVE ──FINALIZE──► SUSPENDED ──final set sent──► FENCED (epoch+1; writes refused forever)
 *    ▲                     │
 *    └──cut / timeout──────┘  (rolled back: writes flow again, nothing lost, all still tracked)
 * </pre>
 *
 * Threads: {@code migrate-seeder-accept}; per connection {@code migrate-seeder-rx-N} (reads
 * requests) and {@code migrate-seeder-tx-N} (the only thread that reads chunks and sends them, so
 * generations go out in increasing order). The seeder does not own the wrapped backend: closing
 * the seeder leaves it open.
 */
public final class Seeder implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.strata.migration.Seeder");
    private static final SecureRandom IDS = new SecureRandom();

    private final Backend source;
    private final SeederConfig config;
    private final DirtyMap dirty;
    private final WriteGate gate = new WriteGate();
    private final Tracked view;
    private final Tracked hookView;
    private final ServerSocket listener;
    private final MigrationProgress progress = new MigrationProgress();
    private final AtomicInteger connIds = new AtomicInteger();
    private final CountDownLatch handedOver = new CountDownLatch(1);
    private final ScheduledThreadPoolExecutor timer;
    private final Object sessions = new Object();
    private Session active; // guarded by sessions
    private long migrationId; // guarded by sessions
    private volatile long epoch;
    private volatile long suspendedAt;
    private volatile long fencedAt;
    private volatile boolean closed;

    private Seeder(Backend source, SeederConfig config, ServerSocket listener) {
        this.source = source;
        this.config = config;
        this.listener = listener;
        this.epoch = config.epoch();
        this.dirty = new DirtyMap(source.size(), config.chunkSize());
        this.view = new Tracked(true);
        this.hookView = new Tracked(false);
        progress.sized(source.size(), dirty.chunks());
        this.timer = new ScheduledThreadPoolExecutor(1, r -> Thread.ofPlatform().name("migrate-seeder-timer")
                .daemon().unstarted(r));
        timer.setRemoveOnCancelPolicy(true);
        timer.prestartAllCoreThreads();
    }

    /** Starts listening; returns at once. */
    public static Seeder start(Backend source, SeederConfig config) throws IOException {
        ServerSocket ss = config.tls() == null ? new ServerSocket()
                : config.tls().getServerSocketFactory().createServerSocket();
        try {
            if (ss instanceof SSLServerSocket tls) {
                tls.setNeedClientAuth(config.needClientAuth());
            }
            ss.setReuseAddress(true);
            ss.bind(new InetSocketAddress(config.bind(), config.port()), 16);
        } catch (IOException | RuntimeException e) {
            ss.close();
            throw e;
        }
        Seeder s = new Seeder(source, config, ss);
        Thread.ofPlatform().name("migrate-seeder-accept").daemon().start(s::acceptLoop);
        return s;
    }

    /** The tracked view the application must write through while the migration runs. */
    public Backend backend() {
        return view;
    }

    public int port() {
        return listener.getLocalPort();
    }

    public long epoch() {
        return epoch;
    }

    public boolean fenced() {
        return gate.state() == WriteGate.State.FENCED;
    }

    public MigrationProgress progress() {
        return progress;
    }

    /** {@link System#nanoTime()} when writes were last suspended (0 if never): the start of the downtime. */
    public long suspendedAtNanos() {
        return suspendedAt;
    }

    /** {@link System#nanoTime()} when the epoch was fenced (0 if not). */
    public long fencedAtNanos() {
        return fencedAt;
    }

    /** Waits until the leecher said it holds every chunk (BYE). */
    public boolean awaitHandedOver(Duration timeout) throws InterruptedException {
        return handedOver.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    private void acceptLoop() {
        while (!closed) {
            Socket s;
            try {
                s = listener.accept();
            } catch (IOException e) {
                if (!closed) {
                    LOG.log(System.Logger.Level.WARNING, "migration seeder accept failed: " + e);
                }
                return;
            }
            try {
                s.setTcpNoDelay(true);
                s.setSendBufferSize(4 << 20);
            } catch (IOException ignored) {
                // best effort
            }
            Session session = new Session(s, connIds.incrementAndGet());
            session.rx = Thread.ofPlatform().name("migrate-seeder-rx-" + session.id).daemon().unstarted(session::run);
            session.rx.start();
        }
    }

    /** Stops listening and cuts the leecher; a suspension not yet fenced is rolled back. Idempotent. */
    @Override
    public void close() throws IOException {
        Session s;
        synchronized (sessions) {
            if (closed) {
                return;
            }
            closed = true;
            s = active;
        }
        IOException failure = null;
        try {
            listener.close();
        } catch (IOException e) {
            failure = e;
        }
        if (s != null) {
            s.kill();
            s.joinRx();
        }
        gate.resume();
        timer.shutdownNow();
        if (failure != null) {
            throw failure;
        }
    }

    // ------------------------------------------------------------------ one leecher connection

    private sealed interface Req permits RoundReq, GetReq, FinalizeReq, AbortReq, Stop {}

    private record RoundReq(int round) implements Req {}

    private record GetReq(long first, int count, boolean urgent) implements Req {}

    private record FinalizeReq(long epoch) implements Req {}

    private record AbortReq() implements Req {}

    private record Stop() implements Req {}

    private final class Session {
        final Socket socket;
        final int id;
        final LinkedBlockingDeque<Req> queue = new LinkedBlockingDeque<>();
        Thread rx;
        Thread tx;
        FrameWriter out;
        volatile boolean suspendedHere;
        long lastRateAt;
        long lastDirtyings;

        Session(Socket socket, int id) {
            this.socket = socket;
            this.id = id;
        }

        void kill() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing anyway
            }
            queue.offerFirst(new Stop());
        }

        void joinRx() {
            if (rx != null && rx != Thread.currentThread()) {
                try {
                    rx.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }

        void run() {
            try {
                FrameReader in = new FrameReader(new BufferedInputStream(socket.getInputStream(), 64 * 1024));
                out = new FrameWriter(socket.getOutputStream());
                if (in.next() != Wire.HELLO) {
                    throw new ProtocolException(Wire.E_BAD_FRAME, "expected HELLO");
                }
                handshake(in.payload());
                tx = Thread.ofPlatform().name("migrate-seeder-tx-" + id).daemon().start(this::sendLoop);
                while (true) {
                    int type = in.next();
                    ByteBuffer p = in.payload();
                    switch (type) {
                        case Wire.ROUND -> queue.offerLast(new RoundReq(p.getInt(0)));
                        case Wire.GET -> {
                            long first = p.getLong(0);
                            int count = p.getInt(8);
                            if (first < 0 || count < 1 || count > Wire.MAX_GET_COUNT || first + count > dirty.chunks()) {
                                throw new ProtocolException(Wire.E_BAD_FRAME, "GET " + first + "+" + count
                                        + " outside " + dirty.chunks() + " chunks");
                            }
                            GetReq g = new GetReq(first, count, p.get(12) != 0);
                            if (g.urgent()) {
                                queue.offerFirst(g);
                            } else {
                                queue.offerLast(g);
                            }
                        }
                        case Wire.FINALIZE -> queue.offerLast(new FinalizeReq(p.getLong(0)));
                        case Wire.ABORT -> queue.offerLast(new AbortReq());
                        case Wire.BYE -> {
                            handedOver.countDown();
                            return;
                        }
                        case Wire.ERROR -> throw in.error();
                        default -> throw new ProtocolException(Wire.E_BAD_FRAME,
                                "unexpected " + Wire.typeName(type) + " from leecher");
                    }
                }
            } catch (ProtocolException e) {
                LOG.log(System.Logger.Level.WARNING, "migration seeder conn " + id + ": " + e.getMessage());
                if (out != null) {
                    try {
                        out.error(e.code(), e.getMessage());
                        out.flush();
                    } catch (IOException ignored) {
                        // closing anyway
                    }
                }
            } catch (IOException | RuntimeException e) {
                if (!closed) {
                    LOG.log(System.Logger.Level.INFO, "migration seeder conn " + id + " ended: " + e);
                }
            } finally {
                end();
            }
        }

        private void handshake(ByteBuffer p) throws IOException {
            if (p.getLong(0) != Wire.MAGIC) {
                throw new ProtocolException(Wire.E_BAD_FRAME, "bad magic");
            }
            int minV = p.getShort(8) & 0xffff;
            int maxV = p.getShort(10) & 0xffff;
            long wantId = p.getLong(12);
            long lastReceived = p.getLong(20);
            int maxChunk = p.getInt(28);
            int version = Math.min(maxV, Wire.VERSION);
            if (version < minV || version < 1) {
                throw new ProtocolException(Wire.E_VERSION, "no common protocol version: leecher offers "
                        + minV + ".." + maxV + ", seeder speaks 1.." + Wire.VERSION);
            }
            if (maxChunk < config.chunkSize()) {
                throw new ProtocolException(Wire.E_BAD_FRAME, "chunk size " + config.chunkSize()
                        + " above the leecher's limit " + maxChunk);
            }
            Session old;
            long id;
            synchronized (sessions) {
                if (closed) {
                    throw new IOException("seeder closed");
                }
                if (wantId == 0) {
                    if (fenced()) {
                        throw new ProtocolException(Wire.E_STALE_EPOCH, "region already handed over at epoch " + epoch);
                    }
                    if (active != null) {
                        throw new ProtocolException(Wire.E_BUSY, "another migration is running");
                    }
                    migrationId = IDS.nextLong(1, Long.MAX_VALUE);
                } else if (wantId != migrationId) {
                    throw new ProtocolException(Wire.E_UNKNOWN_MIGRATION, "unknown migration " + wantId);
                }
                id = migrationId;
                old = active;
                active = this;
            }
            if (old != null) { // a reconnect while the old connection is not yet seen dead
                old.kill();
                old.joinRx();
            }
            if (wantId == 0) {
                dirty.resetAll();
            } else {
                int reset = dirty.resumeFrom(lastReceived);
                progress.reconnected();
                LOG.log(System.Logger.Level.INFO, "migration " + Long.toHexString(id) + " resumed after gen "
                        + lastReceived + ", " + reset + " chunk sends possibly lost");
            }
            out.welcome(version, source.size(), config.chunkSize(), epoch, id, fenced());
            out.flush();
            progress.phase(fenced() ? MigrationProgress.Phase.POST_COPY : MigrationProgress.Phase.PRE_COPY);
        }

        /** Runs on the rx thread when the connection ends, however it ends. */
        private void end() {
            kill();
            if (tx != null) {
                try {
                    tx.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            if (suspendedHere && !fenced()) {
                LOG.log(System.Logger.Level.WARNING, "migration seeder conn " + id
                        + ": connection lost during finalize before the fence; writes resumed (rolled back)");
                gate.resume();
                progress.phase(MigrationProgress.Phase.PRE_COPY);
            }
            synchronized (sessions) {
                if (active == this) {
                    active = null;
                }
            }
        }

        // ---------------------------------------------------------------- sender (tx thread)

        private void sendLoop() {
            byte[] buf = new byte[config.chunkSize()];
            try {
                while (true) {
                    Req r = queue.takeFirst();
                    switch (r) {
                        case Stop _ -> {
                            return;
                        }
                        case GetReq g -> {
                            serveGet(g, buf);
                            if (queue.isEmpty() || g.urgent()) {
                                out.flush();
                            }
                        }
                        case RoundReq rr -> round(rr.round(), buf);
                        case FinalizeReq f -> finalizeAt(f.epoch(), buf);
                        case AbortReq _ -> {
                            if (suspendedHere && !fenced()) {
                                gate.resume();
                                suspendedHere = false;
                            }
                        }
                    }
                }
            } catch (ProtocolException e) {
                LOG.log(System.Logger.Level.WARNING, "migration seeder conn " + id + ": " + e.getMessage());
                try {
                    out.error(e.code(), e.getMessage());
                    out.flush();
                } catch (IOException ignored) {
                    // closing anyway
                }
            } catch (IOException | UncheckedIOException e) {
                if (!closed) {
                    LOG.log(System.Logger.Level.INFO, "migration seeder conn " + id + " send ended: " + e);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                kill();
            }
        }

        private void send(int c, byte[] buf) throws IOException {
            long g = dirty.nextReadGen();
            int len = dirty.length(c);
            source.readAt((long) c * config.chunkSize(), MemorySegment.ofArray(buf).asSlice(0, len));
            out.chunk(c, g, buf, len);
            dirty.sent(c, g);
            progress.moved(len);
        }

        private void serveGet(GetReq g, byte[] buf) throws IOException {
            for (long c = g.first(); c < g.first() + g.count(); c++) {
                if (!g.urgent()) {
                    serveUrgent(buf);
                }
                send((int) c, buf);
            }
        }

        /** On-demand reads of a serving leecher overtake a round or a background pull. */
        private void serveUrgent(byte[] buf) throws IOException {
            Req head = queue.peekFirst();
            if (head instanceof GetReq g && g.urgent() && queue.remove(g)) {
                serveGet(g, buf);
                out.flush();
            } else if (head instanceof Stop) {
                throw new IOException("connection closed");
            }
        }

        private void round(int n, byte[] buf) throws IOException {
            long t0 = System.nanoTime();
            long[] r = sendStale(false, buf);
            long[] counts = dirty.count();
            long now = System.nanoTime();
            long events = dirty.dirtyings();
            double rate = lastRateAt == 0 ? counts[0] / Math.max(1e-3, (now - t0) / 1e9)
                    : (events - lastDirtyings) / Math.max(1e-3, (now - lastRateAt) / 1e9);
            lastRateAt = now;
            lastDirtyings = events;
            progress.round(counts[0], rate);
            out.roundEnd(n, r[0], r[1], counts[0], counts[1], rate);
            out.flush();
        }

        /**
         * The one scan-and-send loop (so it is hot by the time finalize needs it): every stale
         * chunk, or with {@code finalSet} only those the leecher holds an outdated copy of. Returns
         * {chunks sent, bytes sent, chunks never sent}.
         */
        private long[] sendStale(boolean finalSet, byte[] buf) throws IOException {
            long sent = 0;
            long bytes = 0;
            long unsent = 0;
            for (int c = 0; c < dirty.chunks(); c++) {
                if (!finalSet && (c & 63) == 0) {
                    serveUrgent(buf);
                }
                if (dirty.stale(c)) {
                    if (finalSet && !dirty.everSent(c)) {
                        unsent++;
                        continue;
                    }
                    send(c, buf);
                    sent++;
                    bytes += dirty.length(c);
                }
            }
            return new long[] {sent, bytes, unsent};
        }

        private void finalizeAt(long newEpoch, byte[] buf) throws IOException, InterruptedException {
            if (fenced()) { // a retried finalize: same answer, from the frozen region
                if (newEpoch != epoch) {
                    throw new ProtocolException(Wire.E_STALE_EPOCH, "fenced at epoch " + epoch + ", not " + newEpoch);
                }
                long[] r = sendStale(true, buf);
                out.finalEnd(epoch, r[0], fencedAt - suspendedAt, r[2]);
                out.flush();
                progress.phase(MigrationProgress.Phase.POST_COPY);
                return;
            }
            if (newEpoch <= epoch) {
                throw new ProtocolException(Wire.E_STALE_EPOCH, "finalize to epoch " + newEpoch + " but seeder is at " + epoch);
            }
            progress.phase(MigrationProgress.Phase.FINALIZING);
            suspendedAt = System.nanoTime();
            suspendedHere = true;
            if (!gate.suspend(config.suspendTimeout())) {
                throw new IOException("in-flight writes did not drain within " + config.suspendTimeout());
            }
            ScheduledFuture<?> watchdog = timer.schedule(() -> {
                if (!fenced()) { // the leecher stalls the final set: roll back rather than block writers
                    LOG.log(System.Logger.Level.WARNING, "finalize not fenced within " + config.suspendTimeout()
                            + "; cutting the leecher and resuming writes");
                    kill();
                }
            }, config.suspendTimeout().toNanos(), TimeUnit.NANOSECONDS);
            try {
                long drained = System.nanoTime();
                config.hook().suspended(hookView);
                config.faults().at("finalize.suspended");
                long hooked = System.nanoTime();
                long[] r = sendStale(true, buf);
                long n = r[0];
                out.flush();
                epoch = newEpoch;
                gate.fence(newEpoch);
                fencedAt = System.nanoTime();
                config.faults().at("finalize.fenced");
                out.finalEnd(newEpoch, n, fencedAt - suspendedAt, r[2]);
                out.flush();
                progress.phase(MigrationProgress.Phase.POST_COPY);
                LOG.log(System.Logger.Level.INFO, String.format("migration fenced at epoch %d: final set %d chunks, "
                        + "suspended %.2f ms (drain %.2f, hook %.2f, final set %.2f)", newEpoch, n,
                        (fencedAt - suspendedAt) / 1e6, (drained - suspendedAt) / 1e6, (hooked - drained) / 1e6,
                        (fencedAt - hooked) / 1e6));
            } finally {
                watchdog.cancel(false);
            }
        }
    }

    // ------------------------------------------------------------------ the tracked view

    /** Writes through here are gated (suspend / fence) and mark chunks dirty. */
    private final class Tracked implements Backend {
        private final boolean gated;

        Tracked(boolean gated) {
            this.gated = gated;
        }

        @Override
        public long size() {
            return source.size();
        }

        @Override
        public void readAt(long offset, MemorySegment dst) throws IOException {
            if (gated && fenced()) {
                throw new FencedException(epoch);
            }
            source.readAt(offset, dst);
        }

        private void enter() throws IOException {
            if (!gated) {
                return;
            }
            try {
                gate.enter();
            } catch (WriteGate.Fenced f) {
                throw new FencedException(f.epoch());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while writes are suspended");
            }
        }

        private void exit() {
            if (gated) {
                gate.exit();
            }
        }

        @Override
        public void writeAt(long offset, MemorySegment src) throws IOException {
            enter();
            try {
                source.writeAt(offset, src);
                dirty.markWritten(offset, src.byteSize());
            } finally {
                exit();
            }
        }

        @Override
        public void writeDurable(long offset, MemorySegment src) throws IOException {
            enter();
            try {
                source.writeDurable(offset, src);
                dirty.markWritten(offset, src.byteSize());
            } finally {
                exit();
            }
        }

        @Override
        public boolean trim(long offset, long length) throws IOException {
            enter();
            try {
                boolean done = source.trim(offset, length);
                if (done) {
                    dirty.markWritten(offset, length);
                }
                return done;
            } finally {
                exit();
            }
        }

        @Override
        public boolean zero(long offset, long length, boolean fastOnly) throws IOException {
            enter();
            try {
                boolean done = source.zero(offset, length, fastOnly);
                if (done) {
                    dirty.markWritten(offset, length);
                }
                return done;
            } finally {
                exit();
            }
        }

        @Override
        public void sync() throws IOException {
            source.sync();
        }

        @Override
        public boolean nonBlocking() {
            return false;
        }

        /** The seeder does not own the wrapped backend; closing the view does nothing. */
        @Override
        public void close() {}
    }
}
