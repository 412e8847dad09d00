package dev.strata.core;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Figures about the current process read from {@code /proc/self}. */
public final class ProcessStats {
    private ProcessStats() {}

    /** Resident set size in bytes (from {@code /proc/self/statm}), or -1 where /proc is absent. */
    public static long residentBytes() {
        try {
            String[] fields = Files.readString(Path.of("/proc/self/statm")).trim().split("\\s+");
            return Long.parseLong(fields[1]) * 4096L;
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /**
     * A {@code kB} field of {@code /proc/self/smaps} ({@code "Rss"}, {@code "AnonHugePages"}, ...) in
     * bytes, summed over the mappings that start inside {@code range} (advice given to parts of a
     * reservation splits it into several); -1 where /proc is absent or no mapping starts there.
     */
    public static long mappedBytes(java.lang.foreign.MemorySegment range, String field) {
        long base = range.address();
        long end = base + range.byteSize();
        long sum = 0;
        boolean inRange = false;
        boolean seen = false;
        String prefix = field + ":";
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
                int dash = line.indexOf('-');
                int space = line.indexOf(' ');
                if (dash > 0 && space > dash && line.chars().limit(dash).allMatch(c -> Character.digit(c, 16) >= 0)) {
                    long start = Long.parseUnsignedLong(line.substring(0, dash), 16);
                    inRange = Long.compareUnsigned(start, base) >= 0 && Long.compareUnsigned(start, end) < 0;
                    seen |= inRange;
                } else if (inRange && line.startsWith(prefix)) {
                    sum += Long.parseLong(line.substring(prefix.length()).replace("kB", "").trim()) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return seen ? sum : -1;
    }
}
