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
 *
 * <p>Segments may end in preallocated zeros ({@link LogWriter}); {@link SegmentReader} reads those as the end of
 * the records, in sealed segments as in the last one. Zeros followed by non-zero bytes are a bad frame like any
 * other. Records lost from the end of a sealed segment still show as an LSN gap to the next segment's name.
 */
public final class LogRecovery {
    /**
     * What recovery found.
     *
     * @param segments     the segments kept, by first LSN (the last is the one to append to)
     * @param nextLsn      the LSN the next record gets
     * @param highestEpoch highest epoch among the records (0 if none)
     * @param tailBytes    end of the records in the last segment (zeros may follow up to its size)
     * @param truncated    bytes cut off the tail
     */
    public record Result(TreeMap<Long, Path> segments, long nextLsn, long highestEpoch, long tailBytes,
            long truncated) {}

    private LogRecovery() {}

    public static Result recover(Path dir, int maxRecordBytes) throws IOException {
        TreeMap<Long, Path> segments = SegmentFiles.list(dir);
        long nextLsn = segments.isEmpty() ? 1 : segments.firstKey();
        long highestEpoch = 0;
        long truncated = 0;
        TreeMap<Long, Long> recordsEnd = new TreeMap<>();
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
                        recordsEnd.put(first, reader.frameStart());
                        break;
                    }
                    if (status == SegmentReader.Status.BAD) {
                        if (!last) {
                            throw new CorruptionException("bad frame in sealed segment " + file + " at offset "
                                    + reader.frameStart() + ": " + reader.problem());
                        }
                        recordsEnd.put(first, reader.frameStart());
                        truncated = Files.size(file) - reader.frameStart();
                        truncate(file, reader.frameStart());
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
        dropEmptyTail(dir, segments, recordsEnd);
        long tailBytes = segments.isEmpty() ? 0 : recordsEnd.get(segments.lastKey());
        return new Result(segments, nextLsn, highestEpoch, tailBytes, truncated);
    }

    private static void truncate(Path file, long size) throws IOException {
        try (NativeFile f = NativeFile.openReadWrite(file)) {
            f.truncate(size);
            f.fsync();
        }
    }

    /**
     * A last segment without records (created, perhaps preallocated, then the crash came before its first record
     * was durable) is removed when an earlier segment exists, so the active segment always holds the newest record
     * and its epoch. A lone empty segment stays: its name keeps the log's next LSN.
     */
    private static void dropEmptyTail(Path dir, TreeMap<Long, Path> segments, Map<Long, Long> recordsEnd)
            throws IOException {
        if (segments.size() > 1 && recordsEnd.get(segments.lastKey()) == 0) {
            Files.delete(segments.pollLastEntry().getValue());
            SegmentFiles.fsyncDirectory(dir);
        }
    }
}
