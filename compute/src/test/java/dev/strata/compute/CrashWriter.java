package dev.strata.compute;

import dev.strata.core.PageId;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;

/**
 * Child process of {@link CrashRecoveryTest}: writes batches forever (until SIGKILL), printing
 * {@code S i} before batch {@code i} is committed and {@code C i} once its commit returned.
 * Every 17th batch is also preceded by an aborted batch over the same pages.
 */
public final class CrashWriter {
    private CrashWriter() {}

    /** Writes each line with one write(2), so a SIGKILL never leaves half a line in the pipe. */
    private static final class Out {
        private final FileOutputStream fd = new FileOutputStream(FileDescriptor.out);

        void println(String line) throws IOException {
            fd.write((line + "\n").getBytes(StandardCharsets.US_ASCII));
        }
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        long seed = Long.parseLong(args[1]);
        Out out = new Out();
        PageStore store = PageStore.open(dir, CrashWorkload.config());
        if (store.stats().allocatedPages() == 0) {
            try (WriteBatch b = store.newBatch()) {
                for (int p = 0; p < CrashWorkload.pages(); p++) {
                    long id = b.allocate(CrashWorkload.pageBytes(p));
                    if (PageId.pageNumber(id) != CrashWorkload.pageNo(p)) {
                        throw new IllegalStateException("unexpected layout at page " + p);
                    }
                }
                b.commit();
            }
        }
        long counter;
        try (PageHandle h = store.fixShared(PageId.of(0, 0))) {
            counter = h.getLong(0);
        }
        out.println("READY " + counter);
        ArrayDeque<long[]> inflightIds = new ArrayDeque<>();
        ArrayDeque<CompletableFuture<Long>> inflight = new ArrayDeque<>();
        for (long i = counter + 1; ; i++) {
            CrashWorkload.Delta[] deltas = CrashWorkload.batch(seed, i);
            if (i % 17 == 0) {
                try (WriteBatch doomed = store.newBatch()) {
                    for (CrashWorkload.Delta d : deltas) {
                        try (PageHandle h = store.fixExclusive(PageId.of(0, CrashWorkload.pageNo(d.page())))) {
                            doomed.write(h, d.offset(), new byte[d.bytes().length]);
                            doomed.move(h, d.offset(), Math.max(0, d.offset() - 100), d.bytes().length);
                        }
                    }
                }
            }
            out.println("S " + i);
            try (WriteBatch b = store.newBatch()) {
                for (CrashWorkload.Delta d : deltas) {
                    try (PageHandle h = store.fixExclusive(PageId.of(0, CrashWorkload.pageNo(d.page())))) {
                        d.applyTo(b, h);
                    }
                }
                try (PageHandle h = store.fixExclusive(PageId.of(0, 0))) {
                    b.putLong(h, 0, i);
                }
                inflight.add(i % 3 == 0 ? CompletableFuture.completedFuture(b.commit()) : b.commitAsync());
                inflightIds.add(new long[] {i});
            }
            while (inflight.size() > 8 || (!inflight.isEmpty() && inflight.peek().isDone())) {
                inflight.poll().join();
                out.println("C " + inflightIds.poll()[0]);
            }
        }
    }
}
