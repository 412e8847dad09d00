package dev.strata.storage;

import dev.strata.core.PageSize;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

/**
 * Not a test: a throwaway timing of {@link PageFile#write} as the buffer pool's write-back uses it. Writes
 * {@code pages} random 16 KiB pages, {@code chunk} distinct pages per call (native images, as buffer-pool frames
 * are), drawn from {@code distinct} page numbers so that most pages are rewritten, into a fresh store under
 * {@code dir}; prints pages/s and what {@code /proc/self/io} counted ({@code write_bytes}: bytes dirtied for the
 * storage layer; {@code wchar}: bytes passed to write calls). Uses only the public API, so the same file runs
 * against an older {@code PageFile}. Run it under the bench lock, e.g. after
 * {@code ./mvnw -B -q -pl storage-node -am test-compile}:
 *
 * <pre>
 * flock /tmp/strata-bench.lock java --enable-native-access=ALL-UNNAMED \
 *     -cp storage-node/target/test-classes:storage-node/target/classes:core/target/classes \
 *     dev.strata.storage.PageFileWriteBench /tmp/pfbench 10000 64 2500
 * </pre>
 */
public final class PageFileWriteBench {
    private PageFileWriteBench() {}

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args.length > 0 ? args[0] : "/tmp/pfbench");
        int pages = args.length > 1 ? Integer.parseInt(args[1]) : 10_000;
        int chunk = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        int distinct = args.length > 3 ? Integer.parseInt(args[3]) : 2_500;
        int sizeClass = 2;
        int bytes = PageSize.bytes(sizeClass);
        deleteTree(dir);
        Random random = new Random(42);
        try (Arena arena = Arena.ofConfined()) {
            List<List<PageImage>> calls = new ArrayList<>();
            long lsn = 0;
            for (int done = 0; done < pages; done += chunk) {
                List<PageImage> call = new ArrayList<>();
                List<Long> used = new ArrayList<>();
                while (call.size() < Math.min(chunk, pages - done)) {
                    long pageNo = (long) random.nextInt(distinct) * PageSize.slots(sizeClass);
                    if (used.contains(pageNo)) {
                        continue;
                    }
                    used.add(pageNo);
                    MemorySegment image = arena.allocate(bytes);
                    for (long i = 0; i < bytes; i += 8) {
                        image.set(ValueLayout.JAVA_LONG_UNALIGNED, i, random.nextLong());
                    }
                    call.add(new PageImage(pageNo, sizeClass, ++lsn, image));
                }
                calls.add(call);
            }
            long openStart = System.nanoTime();
            try (PageFile file = PageFile.open(dir)) {
                long openNanos = System.nanoTime() - openStart;
                long[] ioBefore = io();
                long start = System.nanoTime();
                for (List<PageImage> call : calls) {
                    file.write(call);
                }
                long nanos = System.nanoTime() - start;
                long[] ioAfter = io();
                double seconds = nanos / 1e9;
                double mib = (double) pages * bytes / (1 << 20);
                System.out.printf("pages=%d chunk=%d distinct=%d open=%.1fms time=%.2fs pages/s=%.0f"
                                + " write_bytes=%.1fMiB (%.2fx) wchar=%.1fMiB (%.2fx) load=%s%n",
                        pages, chunk, distinct, openNanos / 1e6, seconds, pages / seconds,
                        (ioAfter[0] - ioBefore[0]) / 1048576.0, (ioAfter[0] - ioBefore[0]) / 1048576.0 / mib,
                        (ioAfter[1] - ioBefore[1]) / 1048576.0, (ioAfter[1] - ioBefore[1]) / 1048576.0 / mib,
                        Files.readString(Path.of("/proc/loadavg")).trim());
            }
        } finally {
            deleteTree(dir);
        }
    }

    /** {@code write_bytes} and {@code wchar} of this process. */
    private static long[] io() throws IOException {
        long[] values = new long[2];
        for (String line : Files.readAllLines(Path.of("/proc/self/io"))) {
            if (line.startsWith("write_bytes:")) {
                values[0] = Long.parseLong(line.substring(12).trim());
            } else if (line.startsWith("wchar:")) {
                values[1] = Long.parseLong(line.substring(6).trim());
            }
        }
        return values;
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
