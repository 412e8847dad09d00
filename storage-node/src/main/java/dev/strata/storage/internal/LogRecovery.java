package dev.strata.storage.internal;

import dev.strata.core.CorruptionException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * Recovery of a partition log directory on open: validates every frame of every segment in LSN order, cuts a
 * torn tail off the last segment (truncate + fsync) and reports anything else — a bad frame in a sealed segment,
 * an LSN gap within or between segments — as a {@link CorruptionException}.
 */
public final class LogRecovery {
    /**
     * What recovery found.
     *
     * @param segments     the segments kept, by first LSN (the last is the one to append to)
     * @param nextLsn      the LSN the next record gets
     * @param highestEpoch highest epoch among the records (0 if none)
     * @param tailBytes    size of the last segment after any truncation
     * @param truncated    bytes cut off the tail
     */
    public record Result(TreeMap<Long, Path> segments, long nextLsn, long highestEpoch, long tailBytes,
            long truncated) {}

    private LogRecovery() {}

    public static Result recover(Path dir, int maxRecordBytes) throws IOException {
        TreeMap<Long, Path> segments = SegmentFiles.list(dir);
        long nextLsn = segments.isEmpty() ? 1 : segments.firstKey();
        long highestEpoch = 0;
        long tailBytes = 0;
        long truncated = 0;
        for (Map.Entry<Long, Path> entry : segments.entrySet()) {
            long first = entry.getKey();
            Path file = entry.getValue();
            boolean last = first == segments.lastKey();
            if (first != nextLsn) {
                throw new CorruptionException("LSN gap: segment " + file + " starts at " + first
                        + " but the previous segment ends at " + (nextLsn - 1));
            }
            try (SegmentReader reader = new SegmentReader(file, maxRecordBytes)) {
                while (true) {
                    SegmentReader.Status status = reader.next();
                    if (status == SegmentReader.Status.END) {
                        tailBytes = reader.frameStart();
                        break;
                    }
                    if (status == SegmentReader.Status.BAD) {
                        if (!last) {
                            throw new CorruptionException("bad frame in sealed segment " + file + " at offset "
                                    + reader.frameStart() + ": " + reader.problem());
                        }
                        tailBytes = reader.frameStart();
                        truncated = Files.size(file) - tailBytes;
                        truncate(file, tailBytes);
                        break;
                    }
                    if (reader.lsn() != nextLsn) {
                        throw new CorruptionException("LSN gap in " + file + " at offset " + reader.frameStart()
                                + ": expected " + nextLsn + ", found " + reader.lsn());
                    }
                    if (reader.epoch() < highestEpoch) {
                        throw new CorruptionException("epoch went back in " + file + " at LSN " + nextLsn);
                    }
                    highestEpoch = reader.epoch();
                    nextLsn++;
                }
            }
        }
        dropEmptyTail(dir, segments);
        if (!segments.isEmpty()) {
            tailBytes = Files.size(segments.lastEntry().getValue());
        }
        return new Result(segments, nextLsn, highestEpoch, tailBytes, truncated);
    }

    private static void truncate(Path file, long size) throws IOException {
        try (NativeFile f = NativeFile.openReadWrite(file)) {
            f.truncate(size);
            f.fsync();
        }
    }

    /**
     * An empty last segment (created, then the crash came before its first record was durable) is removed when
     * an earlier segment exists, so the active segment always holds the newest record and its epoch. A lone empty
     * segment stays: its name keeps the log's next LSN.
     */
    private static void dropEmptyTail(Path dir, TreeMap<Long, Path> segments) throws IOException {
        if (segments.size() > 1 && Files.size(segments.lastEntry().getValue()) == 0) {
            Files.delete(segments.pollLastEntry().getValue());
            SegmentFiles.fsyncDirectory(dir);
        }
    }
}
