package dev.strata.nbd.internal;

import java.io.DataOutputStream;
import java.io.IOException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Writes replies of one connection from many worker threads (Mpsc by combining): a worker enqueues
 * its reply and, if no other worker is writing, drains the queue into the buffered stream and flushes
 * once. Under load many replies share one flush (one syscall) without a dedicated writer thread.
 * After the first write error the writer is broken and every later send fails fast.
 */
final class ReplyWriter {
    /** A reply: a header and an optional data slice. */
    record Reply(byte[] header, byte[] data, int length) {}

    private final ConcurrentLinkedQueue<Reply> queue = new ConcurrentLinkedQueue<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final DataOutputStream out;
    private final Runnable onBroken;
    private volatile boolean broken;

    ReplyWriter(DataOutputStream out, Runnable onBroken) {
        this.out = out;
        this.onBroken = onBroken;
    }

    void send(byte[] header, byte[] data, int length) {
        if (broken) {
            return;
        }
        queue.add(new Reply(header, data, length));
        while (!queue.isEmpty() && lock.tryLock()) {
            try {
                Reply r;
                while ((r = queue.poll()) != null) {
                    out.write(r.header);
                    if (r.length > 0) {
                        out.write(r.data, 0, r.length);
                    }
                }
                out.flush();
            } catch (IOException e) {
                broken = true;
                queue.clear();
                onBroken.run();
                return;
            } finally {
                lock.unlock();
            }
        }
    }
}
