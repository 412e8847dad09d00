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
 */
final class ReplyWriter {
    private static final int GATHER = 64;
    private static final int MAX_DEFERRED = 64;
    private static final long MAX_DEFERRED_BYTES = 1 << 20;
    /** Deferred-reply accounting; touched only by the reader thread. */
    private int deferred;
    private long deferredBytes;

    /** A reply: bytes to send (a head and an optional body) and the pooled buffer to release after the write. */
    record Reply(ByteBuffer head, ByteBuffer body, BufferPool.Buffer owner) {}

    private final ConcurrentLinkedQueue<Reply> queue = new ConcurrentLinkedQueue<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Wire wire;
    private volatile boolean broken;

    ReplyWriter(Wire wire) {
        this.wire = wire;
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

    /** Writes every queued reply (reader thread, before it blocks). */
    void flush() {
        deferred = 0;
        deferredBytes = 0;
        drain();
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
                        if (!broken) {
                            wire.write(batch, buffers);
                        }
                    } catch (IOException e) {
                        broken = true;
                        wire.close();
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
