package dev.strata.buffer;

import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Runs a call that would hang if the pool were broken on a daemon thread, failing the test at a deadline. */
final class Deadline {
    private static final java.util.Set<Thread> HUNG = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private Deadline() {}

    /**
     * True while a call that missed its deadline is still running: the pool it is stuck in must
     * then be leaked, since closing it would unmap memory under that thread (a JVM crash).
     */
    static boolean anyHung() {
        HUNG.removeIf(t -> !t.isAlive());
        return !HUNG.isEmpty();
    }

    static <T> T within(Duration limit, String what, Callable<T> call) throws Exception {
        FutureTask<T> task = new FutureTask<>(call);
        Thread t = new Thread(task, "deadline-" + what);
        t.setDaemon(true);
        t.start();
        try {
            return task.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            HUNG.add(t);
            t.interrupt();
            return fail(what + " did not finish within " + limit + " (hang)");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception ex) {
                throw ex;
            }
            throw e;
        }
    }

    static void within(Duration limit, String what, Runnable run) throws Exception {
        within(limit, what, () -> {
            run.run();
            return null;
        });
    }
}
