package dev.strata.storage.internal;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.TreeMap;
import java.util.regex.Pattern;

/** Naming of log segment files ({@code <first LSN, 20 digits>.log}) and directory fsync. Stateless. */
public final class SegmentFiles {
    private static final Pattern NAME = Pattern.compile("\\d{20}\\.log");

    private SegmentFiles() {}

    public static String name(long firstLsn) {
        return String.format(Locale.ROOT, "%020d.log", firstLsn);
    }

    /** The segments in {@code dir} keyed by first LSN, ascending. Other files are ignored. */
    public static TreeMap<Long, Path> list(Path dir) throws IOException {
        TreeMap<Long, Path> segments = new TreeMap<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path file : files) {
                String name = file.getFileName().toString();
                if (NAME.matcher(name).matches()) {
                    segments.put(Long.parseLong(name.substring(0, 20)), file);
                }
            }
        }
        return segments;
    }

    /** Makes creations, renames and deletions of entries in {@code dir} durable. */
    public static void fsyncDirectory(Path dir) throws IOException {
        NativeFile.fsyncDirectory(dir);
    }
}
