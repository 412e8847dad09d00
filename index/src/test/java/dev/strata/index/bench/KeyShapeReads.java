package dev.strata.index.bench;

import dev.strata.compute.PageStore;
import dev.strata.compute.PageStoreConfig;
import dev.strata.index.Index;
import dev.strata.index.IndexBatch;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Point reads over 1M keys of one shape, loaded in random order: how a node search that interpolates fares on keys
 * other than the lmdbjava suite's dense 4-byte ids. Prints each round's rate; rounds after the third are steady.
 *
 * <pre>
 * java -cp "$(cat index/target/bench.cp):index/target/classes:index/target/test-classes" \
 *     dev.strata.index.bench.KeyShapeReads dense|ints|skewed|prefix [rounds]
 * </pre>
 *
 * Shapes: {@code dense} the 4-byte ids 0..n-1; {@code ints} random 4-byte values; {@code skewed} 4-byte values
 * drawn as {@code u^4} of a uniform {@code u}, crowded toward 0; {@code prefix} {@code "user"} and 12 random digits,
 * all sharing their first 4 bytes. Values are 100 bytes; the pool holds everything (1 GiB, under /dev/shm).
 */
public final class KeyShapeReads {
    public static void main(String[] a) throws Exception {
        String shape = a.length > 0 ? a[0] : "ints";
        int rounds = a.length > 1 ? Integer.parseInt(a[1]) : 8;
        if (!java.util.Set.of("dense", "ints", "skewed", "prefix").contains(shape)) {
            throw new IllegalArgumentException("shape must be dense, ints, skewed or prefix, got " + shape);
        }
        int n = 1_000_000;
        SplittableRandom r = new SplittableRandom(7);
        byte[][] keys = new byte[n][];
        java.util.HashSet<String> seen = new java.util.HashSet<>();
        for (int i = 0; i < n; i++) {
            byte[] k;
            do {
                k = switch (shape) {
                    case "prefix" -> ("user" + String.format("%012d", r.nextLong(1_000_000_000_000L))).getBytes();
                    case "skewed" -> IndexBench.key((int) (long) (Math.pow(r.nextDouble(), 4) * 4294967295.0));
                    case "dense" -> IndexBench.key(i);
                    default -> IndexBench.key((int) r.nextLong(1L << 32));
                };
            } while (!seen.add(java.util.HexFormat.of().formatHex(k)));
            keys[i] = k;
        }
        seen = null;
        byte[] value = new byte[100];
        Path dir = Files.createTempDirectory(Path.of("/dev/shm"), "ks");
        try (PageStore store = PageStore.open(dir, PageStoreConfig.defaults().withPool(1L << 30)
                .withCapacity(64L << 30))) {
            Index idx = Index.open(store, "k");
            for (int i = 0; i < n; i += 10_000) {
                IndexBatch b = new IndexBatch();
                for (int j = i; j < i + 10_000; j++) {
                    b.put(keys[j], value);
                }
                idx.apply(b);
            }
            int[] order = IndexBench.keys("rnd", n, 0); // the indexes of keys, shuffled
            for (int round = 0; round < rounds; round++) {
                long t0 = System.nanoTime();
                long sum = 0;
                for (int i = 0; i < n; i++) {
                    sum += idx.get(keys[order[i]]).length;
                }
                long t = System.nanoTime() - t0;
                System.out.printf("%s round %d: %,.0f reads/s (%d)%n", shape, round, n * 1e9 / t, sum);
            }
        } finally {
            IndexBench.deleteTree(dir);
        }
    }
}
