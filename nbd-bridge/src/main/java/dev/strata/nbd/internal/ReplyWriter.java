package dev.strata.nbd.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Writes replies of one connection from many worker threads (Mpsc by combining): a worker enqueues
 * its reply and, if no other worker is writing, drains the queue with gathering writes of up to
 * {@link #GATHER} replies each. Under load many replies share one syscall without a dedicated writer
 * thread. Each reply's pooled buffer is released once written. After the first write error the
 * writer is broken: later replies are dropped (their buffers released) and the connection closed.
 *
 * <p>Replies the connection's reader thread produces itself (a non-blocking backend served inline)
 * skip the queue: their headers are staged in one native area and their bodies are backend views,
 * so a burst of them leaves as one {@code writev} at the next {@link #flush} with no allocation,
 * no pooled buffer and no queue node per reply.
 */
final class ReplyWriter {
    private static final int GATHER = 64;
    private static final int STAGE = 8192;
    private static final int MAX_DEFERRED = (int) Wire.tunable("strata.nbd.maxDeferred", 64, 1, 1024);
    private static final long MAX_DEFERRED_BYTES = Wire.tunable("strata.nbd.maxDeferredBytes", 1 << 20, 4096, 64L << 20);
    /** Deferred-reply accounting; touched only by the reader thread. */
    private int deferred;
    private long deferredBytes;

    /** A reply: bytes to send (a head and an optional body) and the pooled buffer to release after the write. */
    record Reply(ByteBuffer head, ByteBuffer body, BufferPool.Buffer owner) {}

    private final ConcurrentLinkedQueue<Reply> queue = new ConcurrentLinkedQueue<>();
    /** Reader-thread staging of inline reply headers (native, owned by the wire's arena). */
    private final ByteBuffer stage;
    /** Reader-thread iovecs of deferred inline replies: runs of staged headers and bodies. */
    private final ByteBuffer[] inline = new ByteBuffer[2 * MAX_DEFERRED + 2];
    private int inlineCount;
    private int runStart;
    private final ReentrantLock lock = new ReentrantLock();
    private final Wire wire;
    private volatile boolean broken;

    ReplyWriter(Wire wire) {
        this.wire = wire;
        this.stage = wire.allocate(STAGE);
    }

    void send(ByteBuffer bytes, BufferPool.Buffer owner) {
        send(bytes, null, owner);
    }

    void send(ByteBuffer head, ByteBuffer body, BufferPool.Buffer owner) {
        send(head, body, owner, false);
    }

    /**
     * With {@code defer} (only from the connection's reader thread, which serves in-memory requests
     * inline), the reply waits in the queue until {@link #flush} — called before the reader would
     * block for more requests — or until {@link #MAX_DEFERRED} replies / {@link #MAX_DEFERRED_BYTES}
     * are waiting: a burst of pipelined requests is answered with one gathering write.
     */
    void send(ByteBuffer head, ByteBuffer body, BufferPool.Buffer owner, boolean defer) {
        queue.add(new Reply(head, body, owner));
        if (defer) {
            deferred++;
            deferredBytes += head.remaining() + (body == null ? 0 : body.remaining());
            if (deferred < MAX_DEFERRED && deferredBytes < MAX_DEFERRED_BYTES) {
                return;
            }
            deferred = 0;
            deferredBytes = 0;
        }
        drain();
    }

    /**
     * Reader thread only: the staging area, positioned where the next inline reply header goes, with
     * room for {@code n} bytes. Put exactly the header, then call {@link #deferInline}. Staged headers
     * stay put until written, so consecutive header-only replies leave as one contiguous iovec.
     */
    ByteBuffer inlineHeader(int n) {
        if (stage.remaining() < n || inlineCount + 2 > inline.length) {
            flush();
        }
        return stage;
    }

    /**
     * Reader thread only: the header just put into {@link #inlineHeader} plus an optional body (which
     * must stay valid until written: a backend view) join the deferred replies; they leave with the
     * next {@link #flush}, or now if {@link #MAX_DEFERRED} replies / {@link #MAX_DEFERRED_BYTES} wait.
     */
    void deferInline(ByteBuffer body) {
        if (body != null) {
            inline[inlineCount++] = stage.slice(runStart, stage.position() - runStart);
            runStart = stage.position();
            inline[inlineCount++] = body;
            deferredBytes += body.remaining();
        }
        deferred++;
        if (deferred >= MAX_DEFERRED || deferredBytes >= MAX_DEFERRED_BYTES) {
            flush();
        }
    }

    /** Writes the deferred inline replies and every queued reply (reader thread, before it blocks). */
    void flush() {
        deferred = 0;
        deferredBytes = 0;
        if (stage.position() > runStart) {
            inline[inlineCount++] = stage.slice(runStart, stage.position() - runStart);
        }
        if (inlineCount > 0) {
            lock.lock();
            try {
                writeUnlessBroken(inline, inlineCount);
            } finally {
                lock.unlock();
                java.util.Arrays.fill(inline, 0, inlineCount, null);
                inlineCount = 0;
                runStart = 0;
                stage.clear();
            }
        }
        drain();
    }

    /**
     * Called with the lock held: gathers {@code n} buffers to the socket; the first failure marks the connection
     * broken and closes it, after which replies are dropped (their owners are still released by the caller).
     */
    private void writeUnlessBroken(ByteBuffer[] buffers, int n) {
        if (broken) {
            return;
        }
        try {
            wire.write(buffers, n);
        } catch (IOException e) {
            broken = true;
            wire.close();
        }
    }

    private void drain() {
        ByteBuffer[] batch = null;
        Reply[] replies = null;
        while (!queue.isEmpty() && lock.tryLock()) {
            try {
                if (batch == null) {
                    batch = new ByteBuffer[2 * GATHER];
                    replies = new Reply[GATHER];
                }
                while (true) {
                    int n = 0;
                    int buffers = 0;
                    Reply r;
                    while (n < GATHER && (r = queue.poll()) != null) {
                        replies[n++] = r;
                        batch[buffers++] = r.head;
                        if (r.body != null) {
                            batch[buffers++] = r.body;
                        }
                    }
                    if (n == 0) {
                        break;
                    }
                    try {
                        writeUnlessBroken(batch, buffers);
                    } finally {
                        for (int i = 0; i < n; i++) {
                            replies[i].owner.close();
                            replies[i] = null;
                        }
                        java.util.Arrays.fill(batch, 0, buffers, null);
                    }
                }
            } finally {
                lock.unlock();
            }
        }
    }
}
