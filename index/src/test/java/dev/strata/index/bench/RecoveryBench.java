package dev.strata.index.bench;

import dev.strata.compute.PageStore;
import dev.strata.compute.PageStoreConfig;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Opens a store that a killed writer left (see {@code index/bench-recovery.sh}) and prints what its recovery
 * replayed and how long opening took: {@code dir=<store> memoryMiB=<pool>}.
 */
public final class RecoveryBench {
    private RecoveryBench() {}

    public static void main(String[] args) {
        Map<String, String> a = new HashMap<>();
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("expected key=value, got " + arg);
            }
            a.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
        Path dir = Path.of(a.getOrDefault("dir", "/tmp/strata-recovery/strata"));
        long pool = Long.parseLong(a.getOrDefault("memoryMiB", "277")) << 20;
        long t0 = System.nanoTime();
        try (PageStore store = PageStore.open(dir, PageStoreConfig.defaults().withPool(pool).withCapacity(64L << 30))) {
            PageStore.RecoveryStats r = store.recovery();
            System.out.printf("RESULT recovery: %,d records, %,d MiB replayed in %.2f s; open took %.2f s; "
                    + "pool misses %,d, %,d MiB read%n", r.records(), r.bytes() >> 20, r.nanos() / 1e9,
                    (System.nanoTime() - t0) / 1e9, store.stats().pool().misses(),
                    store.stats().pool().bytesRead() >> 20);
        }
    }
}
