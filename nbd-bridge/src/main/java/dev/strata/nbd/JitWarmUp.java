package dev.strata.nbd;

import static dev.strata.nbd.internal.Proto.CMD_FLUSH;
import static dev.strata.nbd.internal.Proto.CMD_READ;
import static dev.strata.nbd.internal.Proto.CMD_WRITE;

import dev.strata.nbd.backend.MemoryBackend;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Warms the JIT before a server takes real clients: serves a burst of pipelined reads and writes (4 KiB and
 * 256 KiB) to an in-process client over loopback TCP on a scratch memory export, then waits until the compiler
 * has gone quiet. Measured on the 2-core box: without it the C2 compiler still took ~30% of the server's CPU
 * during its first gigabytes of reads, competing with the clients for the cores; with it the server's first
 * requests already run compiled code. Costs about a second of startup; {@code --no-warm-up} skips it.
 */
public final class JitWarmUp {
    private static final int SMALL = 4096;
    private static final int LARGE = 256 * 1024;
    private static final long SCRATCH = 64L << 20;

    private JitWarmUp() {}

    /** What the warm-up did: requests served and wall time in milliseconds. */
    public record Result(long requests, long millis) {}

    /**
     * {@link #run} for a server about to start: reports what it did on stderr, and a warm-up that fails (say, no
     * loopback interface) is reported and skipped, never failing the server's start.
     */
    public static void runBeforeServing(long maxMillis) {
        try {
            Result r = run(maxMillis);
            System.err.println("JIT warm-up: " + r.requests() + " requests in " + r.millis() + " ms");
        } catch (IOException | RuntimeException e) {
            System.err.println("JIT warm-up skipped: " + e);
        }
    }

    /** Runs the warm-up for at most {@code maxMillis} (requests) plus up to 2 s of waiting for the compiler. */
    public static Result run(long maxMillis) throws IOException {
        long start = System.nanoTime();
        long deadline = start + TimeUnit.MILLISECONDS.toNanos(maxMillis);
        long requests = 0;
        try (MemoryBackend scratch = new MemoryBackend(SCRATCH);
             NbdServer server = NbdServer.start(InetAddress.getLoopbackAddress(), 0,
                     List.of(new Export("warm-up", "JIT warm-up", scratch, false)), null, false);
             NbdClient client = NbdClient.connect(InetAddress.getLoopbackAddress().getHostAddress(), server.port(),
                     "warm-up");
             Arena arena = Arena.ofShared()) {
            client.startPipelining("nbd-warm-up-client");
            MemorySegment buf = arena.allocate(32L * LARGE, 4096);
            SplittableRandom random = new SplittableRandom(1);
            List<CompletableFuture<Integer>> inFlight = new ArrayList<>(32);
            // 20k requests of each kind pass C2's thresholds for the per-request methods
            while (requests < 80_000 && System.nanoTime() < deadline) {
                for (int i = 0; i < 32; i++) {
                    boolean large = (i & 3) == 0;
                    int len = large ? LARGE : SMALL;
                    long off = random.nextLong(SCRATCH / len) * len;
                    MemorySegment slot = buf.asSlice((long) i * LARGE, len);
                    inFlight.add((i & 1) == 0 ? client.submit(CMD_READ, 0, off, len, null, slot)
                            : client.submit(CMD_WRITE, 0, off, len, slot, null));
                }
                for (CompletableFuture<Integer> f : inFlight) {
                    int error = f.join();
                    if (error != 0) {
                        throw new IOException("warm-up request failed with NBD error " + error);
                    }
                }
                requests += inFlight.size();
                inFlight.clear();
            }
            client.submit(CMD_FLUSH, 0, 0, 0, null, null).join();
        }
        awaitCompilerQuiet(TimeUnit.SECONDS.toNanos(2));
        return new Result(requests, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
    }

    /** Waits until the JIT's total compilation time stops growing for 100 ms, at most {@code maxNanos}. */
    private static void awaitCompilerQuiet(long maxNanos) {
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        if (jit == null || !jit.isCompilationTimeMonitoringSupported()) {
            return;
        }
        long deadline = System.nanoTime() + maxNanos;
        long last = jit.getTotalCompilationTime();
        try {
            while (System.nanoTime() < deadline) {
                Thread.sleep(100);
                long now = jit.getTotalCompilationTime();
                if (now == last) {
                    return;
                }
                last = now;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
