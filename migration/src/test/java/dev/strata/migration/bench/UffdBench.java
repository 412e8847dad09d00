package dev.strata.migration.bench;

import dev.strata.migration.uffd.UffdMapping;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * userfaultfd frontend throughput from a local file backend (in /dev/shm): sequential read of the
 * whole mapping with readahead (fresh mapping per repeat), and random 4 KiB first touches per second
 * (one thread). Usage: {@code UffdBench [sizeMiB=1024] [repeats=3] [faultThreads=2] [maxWindowMiB=4]}
 */
public final class UffdBench {
    private UffdBench() {}

    public static void main(String[] args) throws Exception {
        long size = (args.length > 0 ? Long.parseLong(args[0]) : 1024) << 20;
        int repeats = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : 2;
        int window = (args.length > 3 ? Integer.parseInt(args[3]) : 4) << 20;
        Path file = Files.createTempFile(Path.of("/dev/shm"), "uffd-bench", ".img");
        try {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                byte[] buf = new byte[1 << 20];
                SplittableRandom rnd = new SplittableRandom(1);
                for (long off = 0; off < size; off += buf.length) {
                    rnd.nextBytes(buf);
                    ch.write(ByteBuffer.wrap(buf), off);
                }
            }
            double[] seq = new double[repeats];
            double[] rand = new double[repeats];
            byte[] sink = new byte[1 << 20];
            for (int r = 0; r < repeats; r++) {
                try (UffdMapping m = UffdMapping.open("file:" + file, size, threads, window)) {
                    MemorySegment seg = m.segment();
                    long t0 = System.nanoTime();
                    for (long off = 0; off < size; off += sink.length) {
                        MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, off, sink, 0, sink.length);
                    }
                    seq[r] = size / ((System.nanoTime() - t0) / 1e9) / 1e9;
                }
                try (UffdMapping m = UffdMapping.open("file:" + file, size, threads, window)) {
                    MemorySegment seg = m.segment();
                    SplittableRandom rnd = new SplittableRandom(r);
                    long pages = size / 4096;
                    int n = 20_000;
                    long sum = 0;
                    long t0 = System.nanoTime();
                    for (int i = 0; i < n; i++) {
                        sum += seg.get(ValueLayout.JAVA_BYTE, rnd.nextLong(pages) * 4096);
                    }
                    rand[r] = n / ((System.nanoTime() - t0) / 1e9);
                    if (sum == 42) {
                        System.out.print("");
                    }
                }
                System.out.printf("run %d: sequential %.2f GB/s, random 4 KiB touches %.0f/s (some hit pages already faulted by readahead windows of 64 KiB)%n",
                        r + 1, seq[r], rand[r]);
            }
            Arrays.sort(seq);
            Arrays.sort(rand);
            System.out.printf("MEDIAN uffd %d MiB, %d fault threads, window %d MiB: sequential %.2f GB/s, random touches %.0f/s%n",
                    size >> 20, threads, window >> 20, seq[repeats / 2], rand[repeats / 2]);
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
