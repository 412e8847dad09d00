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
 */
public final class SegmentReader implements AutoCloseable {
    /** Outcome of {@link #next()}. */
    public enum Status {
        /** A valid frame; its fields are available until the next call. */
        RECORD,
        /** Clean end of the file. */
        END,
        /** The bytes at {@link #frameStart()} are not a valid frame ({@link #problem()} says why). */
        BAD
    }

    private static final int MIN_WINDOW = 1 << 20;

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
        if (limit - position < HEADER_LENGTH) {
            return bad("short header: " + (limit - position) + " bytes left");
        }
        ensure(HEADER_LENGTH);
        int at = (int) (position - windowStart);
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
