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
import java.util.zip.CRC32C;

/**
 * userfaultfd frontend throughput from a local file backend (in /dev/shm), a fresh mapping (and
 * helper) per measurement, no residency cap. Sequential reads of the whole mapping, one reader
 * thread, each reader reading every page:
 *
 * <ul>
 *   <li><b>copy</b>: copies every byte out into a 1 MiB heap array (the reader of earlier figures);
 *   <li><b>crc</b>: CRC32C of every byte straight from the mapping, checked against the file's;
 *   <li><b>touch</b>: one long per 4 KiB page, summed and checked (the fault path with the least
 *       reader work: an upper bound, not what an application sees).
 * </ul>
 * Then random 4 KiB first touches per second (one thread). A wrong checksum or sum fails the run.
 * Usage: {@code UffdBench [sizeMiB=1024] [repeats=3] [faultThreads=2] [maxWindowMiB=4]}
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
            CRC32C crc = new CRC32C();
            long touchSum = 0;
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                byte[] buf = new byte[1 << 20];
                SplittableRandom rnd = new SplittableRandom(1);
                for (long off = 0; off < size; off += buf.length) {
                    rnd.nextBytes(buf);
                    crc.update(buf);
                    for (int p = 0; p < buf.length; p += 4096) {
                        touchSum += MemorySegment.ofArray(buf).get(ValueLayout.JAVA_LONG_UNALIGNED, p);
                    }
                    ch.write(ByteBuffer.wrap(buf), off);
                }
            }
            String spec = "file:" + file;
            double[] copy = new double[repeats];
            double[] check = new double[repeats];
            double[] touch = new double[repeats];
            double[] rand = new double[repeats];
            byte[] sink = new byte[1 << 20];
            for (int r = 0; r < repeats; r++) {
                try (UffdMapping m = UffdMapping.open(spec, size, threads, window)) {
                    MemorySegment seg = m.segment();
                    long t0 = System.nanoTime();
                    for (long off = 0; off < size; off += sink.length) {
                        MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, off, sink, 0, sink.length);
                    }
                    copy[r] = size / ((System.nanoTime() - t0) / 1e9) / 1e9;
                }
                try (UffdMapping m = UffdMapping.open(spec, size, threads, window)) {
                    MemorySegment seg = m.segment();
                    CRC32C c = new CRC32C();
                    long t0 = System.nanoTime();
                    for (long off = 0; off < size; off += 1 << 20) {
                        c.update(seg.asSlice(off, 1 << 20).asByteBuffer());
                    }
                    check[r] = size / ((System.nanoTime() - t0) / 1e9) / 1e9;
                    if (c.getValue() != crc.getValue()) {
                        throw new AssertionError("CRC32C of the mapping differs from the file's");
                    }
                }
                try (UffdMapping m = UffdMapping.open(spec, size, threads, window)) {
                    MemorySegment seg = m.segment();
                    long sum = 0;
                    long t0 = System.nanoTime();
                    for (long off = 0; off < size; off += 4096) {
                        sum += seg.get(ValueLayout.JAVA_LONG_UNALIGNED, off);
                    }
                    touch[r] = size / ((System.nanoTime() - t0) / 1e9) / 1e9;
                    if (sum != touchSum) {
                        throw new AssertionError("sum of the first long of each page differs from the file's");
                    }
                }
                try (UffdMapping m = UffdMapping.open(spec, size, threads, window)) {
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
                System.out.printf("run %d: sequential copy %.2f GB/s, crc %.2f GB/s, touch %.2f GB/s; random 4 KiB touches %.0f/s%n",
                        r + 1, copy[r], check[r], touch[r], rand[r]);
            }
            Arrays.sort(copy);
            Arrays.sort(check);
            Arrays.sort(touch);
            Arrays.sort(rand);
            System.out.printf("MEDIAN uffd %d MiB, %d fault threads, window %d MiB: sequential copy %.2f GB/s, crc %.2f GB/s, touch %.2f GB/s; random touches %.0f/s%n",
                    size >> 20, threads, window >> 20, copy[repeats / 2], check[repeats / 2], touch[repeats / 2],
                    rand[repeats / 2]);
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
