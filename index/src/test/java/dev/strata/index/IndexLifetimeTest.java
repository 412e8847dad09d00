package dev.strata.index;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.strata.compute.PageStore;
import java.lang.ref.WeakReference;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A closed store is not kept by the indexes opened on it: a process that opens and closes stores (a
 * server cycling tenants, a test suite, a benchmark opening a fresh store per round) keeps none of them.
 */
class IndexLifetimeTest {
    @TempDir
    Path dir;

    @Test
    void aClosedStoreWithOpenIndexesIsNotKeptByTheIndexRegistry() throws Exception {
        WeakReference<PageStore> ref = openWriteAndClose(dir.resolve("a"));
        for (int i = 0; i < 50 && ref.get() != null; i++) {
            System.gc();
            Thread.sleep(20);
        }
        assertNull(ref.get(), "a closed store stays reachable through the indexes opened on it");
    }

    @Test
    void aStoreReopenedInTheSameProcessOpensItsIndexAfresh() {
        Path d = dir.resolve("b");
        byte[] key = "k".getBytes(StandardCharsets.UTF_8);
        try (PageStore store = PageStore.open(d, IndexModelTest.config(4L << 20))) {
            Index first = Index.open(store, "idx");
            first.put(key, new byte[] {1});
        }
        try (PageStore store = PageStore.open(d, IndexModelTest.config(4L << 20))) {
            Index again = Index.open(store, "idx");
            assertEquals(1, again.get(key)[0]);
            assertSame(again, Index.open(store, "idx"), "one instance per name while the store is open");
        }
    }

    private static WeakReference<PageStore> openWriteAndClose(Path d) {
        PageStore store = PageStore.open(d, IndexModelTest.config(4L << 20));
        try (store) {
            Index idx = Index.open(store, "idx");
            Index.open(store, "other");
            IndexBatch b = new IndexBatch();
            for (int i = 0; i < 1000; i++) {
                b.put(("key" + i).getBytes(StandardCharsets.UTF_8), new byte[100]);
            }
            idx.apply(b);
        }
        return new WeakReference<>(store);
    }
}
