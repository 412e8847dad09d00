package dev.strata.index.internal;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * The threads that help writers flush a root buffer: one per spare core (none on a single core),
 * shared by every tree in the process, started on demand and stopped after a minute idle. A task finds
 * a free thread at once or runs on the caller ({@link ThreadPoolExecutor.CallerRunsPolicy}), so a
 * writer never waits for a helper that another writer keeps busy.
 */
final class FlushHelper {
    private static final int THREADS = Math.max(0, Runtime.getRuntime().availableProcessors() - 1);
    private static final ThreadPoolExecutor POOL = THREADS == 0 ? null
            : new ThreadPoolExecutor(0, THREADS, 60, TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
                Thread t = new Thread(r, "strata-index-flush");
                t.setDaemon(true);
                return t;
            }, new ThreadPoolExecutor.CallerRunsPolicy());

    private FlushHelper() {}

    static boolean available() {
        return POOL != null;
    }

    static Future<?> submit(Runnable task) {
        return POOL.submit(task);
    }

    /**
     * Runs {@code task} for 0 .. {@code count - 1} on the calling thread and a helper, each taking the next
     * index not yet taken, so that a thread held up (a slow read, a large node) does not leave the other
     * waiting with its share done; returns once both stopped, or at once if the caller took every index
     * before the helper started (a helper woken on a busy machine may wait for a core). A failure on either
     * stops both from taking more and is thrown after both stopped (with the other's failure, if any,
     * suppressed), so that an abort never restores pages a task is still changing. Without a helper, runs
     * all on the caller.
     */
    static void forEach(int count, IntConsumer task) {
        if (!available() || count < 2) {
            for (int k = 0; k < count; k++) {
                task.accept(k);
            }
            return;
        }
        AtomicInteger next = new AtomicInteger();
        Runnable work = () -> {
            try {
                for (int k; (k = next.getAndIncrement()) < count; ) {
                    task.accept(k);
                }
            } catch (RuntimeException | Error e) {
                next.set(count);
                throw e;
            }
        };
        // the helper's run starts by claiming it (0 -> 1); a caller that is done with every index before the
        // helper got a core takes the run back (0 -> 2), and neither waits for nor is touched by it
        AtomicInteger helperRun = new AtomicInteger();
        Future<?> helper = submit(() -> {
            if (helperRun.compareAndSet(0, 1)) {
                work.run();
            }
        });
        Throwable failure = null;
        try {
            work.run();
        } catch (RuntimeException | Error e) {
            failure = e;
        }
        try {
            if (!helperRun.compareAndSet(0, 2)) {
                await(helper);
            }
        } catch (RuntimeException | Error e) {
            if (failure == null) {
                failure = e;
            } else {
                failure.addSuppressed(e);
            }
        }
        if (failure instanceof RuntimeException e) {
            throw e;
        }
        if (failure instanceof Error e) {
            throw e;
        }
    }

    /**
     * Waits for {@code f}, uninterruptibly (a writer must not abort while a helper still changes its
     * pages; the interrupt is kept for later), and rethrows the task's failure.
     */
    static void await(Future<?> f) {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    f.get();
                    return;
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    Throwable c = e.getCause();
                    if (c instanceof RuntimeException r) {
                        throw r;
                    }
                    if (c instanceof Error err) {
                        throw err;
                    }
                    throw new IllegalStateException(c);
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
