package dev.strata.nbd.mount;

import java.util.Arrays;

/** Builds the background pull order of chunks from a priority function (highest first, stable). */
final class PullOrder {
    private PullOrder() {}

    static long[] of(long chunks, MountConfig.PullPriority priority) {
        long[] order = new long[(int) chunks];
        double[] p = new double[(int) chunks];
        Integer[] idx = new Integer[(int) chunks];
        for (int i = 0; i < chunks; i++) {
            p[i] = priority.of(i);
            idx[i] = i;
        }
        Arrays.sort(idx, (x, y) -> Double.compare(p[y], p[x]));
        for (int i = 0; i < chunks; i++) {
            order[i] = idx[i];
        }
        return order;
    }
}
