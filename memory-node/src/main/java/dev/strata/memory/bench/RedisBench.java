package dev.strata.memory.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs Debian's {@code redis-benchmark} (4 KiB values, {@code -c depth} connections, one request in flight each). */
final class RedisBench {
    private RedisBench() {}

    static List<String> command(int port, String test, int depth, int keys, long requests) {
        return List.of("redis-benchmark", "-h", "127.0.0.1", "-p", Integer.toString(port), "-c", Integer.toString(depth),
                "-n", Long.toString(requests), "-d", "4096", "-r", Integer.toString(keys), "-t", test, "--csv");
    }

    static Result run(int port, String test, int depth, int keys, long requests) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command(port, test, depth, keys, requests)).redirectErrorStream(true).start();
        List<String> lines = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String l;
            while ((l = r.readLine()) != null) {
                lines.add(l);
            }
        } finally {
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
        // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
        for (String l : lines) {
            String[] f = l.replace("\"", "").split(",");
            if (f.length >= 7 && f[0].equalsIgnoreCase(test)) {
                return new Result(Double.parseDouble(f[1]), Double.parseDouble(f[4]) * 1000, Double.parseDouble(f[6]) * 1000);
            }
        }
        throw new IOException("no result from redis-benchmark: " + lines);
    }

    /** Runs for about {@code seconds}: a short calibration run sizes the request count. */
    static Result runFor(int port, String test, int depth, int keys, double seconds) throws IOException, InterruptedException {
        Result probe = run(port, test, depth, keys, depth == 1 ? 5_000 : 20_000);
        long n = Math.max(10_000, (long) (probe.opsPerSec() * seconds));
        return run(port, test, depth, keys, n);
    }
}
