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
}
