package dev.strata.memory.bench;

import java.util.Arrays;
import java.util.List;

/** Throughput and latency percentiles of one run. */
record Result(double opsPerSec, double p50Micros, double p99Micros) {
    static Result of(long ops, long nanos, long[] latencies, int n) {
        long[] l = Arrays.copyOf(latencies, n);
        Arrays.sort(l);
        return new Result(ops * 1e9 / nanos, n == 0 ? 0 : l[n / 2] / 1e3, n == 0 ? 0 : l[Math.min(n - 1, (int) (n * 0.99))] / 1e3);
    }

    /** Per-field medians of several runs. */
    static Result median(List<Result> rs) {
        double[] a = rs.stream().mapToDouble(Result::opsPerSec).sorted().toArray();
        double[] b = rs.stream().mapToDouble(Result::p50Micros).sorted().toArray();
        double[] c = rs.stream().mapToDouble(Result::p99Micros).sorted().toArray();
        return new Result(a[a.length / 2], b[b.length / 2], c[c.length / 2]);
    }
}
