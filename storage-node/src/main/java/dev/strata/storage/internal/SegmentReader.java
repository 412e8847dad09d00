package dev.strata.storage.internal;

import static dev.strata.storage.internal.LogRecordDescriptor.CRC_OFFSET;
import static dev.strata.storage.internal.LogRecordDescriptor.CRC_START;
import static dev.strata.storage.internal.LogRecordDescriptor.EPOCH_OFFSET;
import static dev.strata.storage.internal.LogRecordDescriptor.HEADER_LENGTH;
import static dev.strata.storage.internal.LogRecordDescriptor.INT;
import static dev.strata.storage.internal.LogRecordDescriptor.LENGTH_OFFSET;
import static dev.strata.storage.internal.LogRecordDescriptor.LONG;
import static dev.strata.storage.internal.LogRecordDescriptor.LSN_OFFSET;

import dev.strata.core.Checksums;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * Reads the frames of one segment file in order through a native window (few large reads, not two per record).
 * Never trusts a length field: it is checked against {@code maxRecordBytes} and the bytes left in the file before
 * the window grows. Reads only the file's size at open, so a segment being appended to can be read safely up to
 * what was durable then. Single-threaded (confined to the thread that opened it).
 *
 * <p>Preallocated space: the writer keeps zeros written ahead of its records, so a segment may end in zeros. An
 * all-zero frame header (never a valid frame: LSNs start at 1) followed by nothing but zeros up to the end of the
 * file is the {@link Status#END end} of the records; zeros followed by any non-zero byte are {@link Status#BAD}
 * (a torn tail in the last segment, corruption in a sealed one). So are fewer than a header's bytes left unless
 * they are all zero.
 */
public final class SegmentReader implements AutoCloseable {
    /** Outcome of {@link #next()}. */
    public enum Status {
        /** A valid frame; its fields are available until the next call. */
        RECORD,
        /** Clean end of the records: end of the file, or only preallocated zeros left. */
        END,
        /** The bytes at {@link #frameStart()} are not a valid frame ({@link #problem()} says why). */
        BAD
    }

    private static final int MIN_WINDOW = 1 << 20;
    private static final int ZERO_SCAN = 64 << 10;
    private static final MemorySegment ZEROS = Arena.global().allocate(ZERO_SCAN);

    private final NativeFile file;
    private final long limit;
    private final int maxRecordBytes;
    private Arena windowArena = Arena.ofConfined();
    private MemorySegment window = MemorySegment.NULL;
    private long windowStart;
    private int windowLength;
    private long position;
    private long frameStart;
    private long lsn;
    private long epoch;
    private int payloadOffset;
    private int payloadLength;
    private String problem;

    public SegmentReader(Path file, int maxRecordBytes) throws IOException {
        this.file = NativeFile.openRead(file);
        try {
            this.limit = this.file.size();
        } catch (IOException | RuntimeException e) {
            this.file.close();
            throw e;
        }
        this.maxRecordBytes = maxRecordBytes;
    }

    /** Advances to the next frame. */
    public Status next() throws IOException {
        frameStart = position;
        if (position == limit) {
            return Status.END;
        }
        int head = (int) Math.min(HEADER_LENGTH, limit - position);
        ensure(head);
        int at = (int) (position - windowStart);
        if (MemorySegment.mismatch(window, at, at + head, ZEROS, 0, head) < 0) {
            long nonZero = firstNonZero(position + head);
            if (nonZero < 0) {
                return Status.END;
            }
            return bad("zeros at " + position + " (where the preallocated space would start) are followed by a "
                    + "non-zero byte at " + nonZero);
        }
        if (head < HEADER_LENGTH) {
            return bad("short header: " + head + " bytes left");
        }
        int length = window.get(INT, at + LENGTH_OFFSET);
        if (length < 0 || length > maxRecordBytes) {
            return bad("length " + Integer.toUnsignedString(length) + " exceeds maxRecordBytes " + maxRecordBytes);
        }
        if (length > limit - position - HEADER_LENGTH) {
            return bad("length " + length + " runs past end of file");
        }
        ensure(HEADER_LENGTH + length);
        at = (int) (position - windowStart);
        int stored = window.get(INT, at + CRC_OFFSET);
        int actual = Checksums.crc32c(window.asSlice(at + CRC_START, HEADER_LENGTH - CRC_START + length));
        if (stored != actual) {
            return bad("CRC mismatch");
        }
        epoch = window.get(LONG, at + EPOCH_OFFSET);
        lsn = window.get(LONG, at + LSN_OFFSET);
        payloadOffset = at + HEADER_LENGTH;
        payloadLength = length;
        position += HEADER_LENGTH + length;
        return Status.RECORD;
    }

    private Status bad(String why) {
        problem = why;
        return Status.BAD;
    }

    /**
     * Offset of the first non-zero byte in {@code [from, limit)}, or -1. Reads past the window (and leaves it
     * empty): called only once the records have ended.
     */
    private long firstNonZero(long from) throws IOException {
        MemorySegment chunk = window.asSlice(0, ZERO_SCAN); // the window is at least MIN_WINDOW once used
        windowStart = position;
        windowLength = 0;
        for (long at = from; at < limit; ) {
            int n = (int) Math.min(ZERO_SCAN, limit - at);
            long read = file.read(at, chunk.asSlice(0, n));
            if (read < n) {
                throw new IOException("segment " + file.path() + " shrank while being read");
            }
            long mismatch = MemorySegment.mismatch(chunk, 0, n, ZEROS, 0, n);
            if (mismatch >= 0) {
                return at + mismatch;
            }
            at += n;
        }
        return -1;
    }

    /** Makes bytes {@code [position, position + n)} of the file available in the window. */
    private void ensure(int n) throws IOException {
        int at = (int) (position - windowStart);
        if (at + n <= windowLength) {
            return;
        }
        int kept = windowLength - at;
        if (window.byteSize() < n) {
            Arena grownArena = Arena.ofConfined();
            MemorySegment grown = grownArena.allocate(Math.max(n, MIN_WINDOW));
            MemorySegment.copy(window, at, grown, 0, kept);
            windowArena.close();
            windowArena = grownArena;
            window = grown;
        } else {
            MemorySegment.copy(window, at, window, 0, kept);
        }
        windowStart = position;
        windowLength = kept;
        int want = (int) Math.min(window.byteSize(), limit - windowStart);
        long read = file.read(windowStart + windowLength, window.asSlice(windowLength, want - windowLength));
        if (read < want - windowLength) {
            throw new IOException("segment " + file.path() + " shrank while being read");
        }
        windowLength = want;
    }

    public long lsn() {
        return lsn;
    }

    public long epoch() {
        return epoch;
    }

    /** The current record's payload: a view of the reader's window, valid until the next call. */
    public MemorySegment payload() {
        return window.asSlice(payloadOffset, payloadLength).asReadOnly();
    }

    /** File offset where the current (or bad) frame starts. */
    public long frameStart() {
        return frameStart;
    }

    /** Why the last {@link Status#BAD} frame was rejected. */
    public String problem() {
        return problem;
    }

    @Override
    public void close() throws IOException {
        try {
            file.close();
        } finally {
            windowArena.close();
        }
    }
}
