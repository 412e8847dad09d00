package dev.strata.core.remote;

import static dev.strata.core.remote.RemoteFrameDescriptor.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Flyweight over one frame header in a {@link MemorySegment} (layout in {@link RemoteFrameDescriptor}).
 * Reuse one instance with {@link #wrap}; not thread-safe.
 */
public final class RemoteFrame {
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private MemorySegment segment;
    private long base;

    /** Points this flyweight at the header starting at {@code offset}; at least {@code HEADER_LENGTH} bytes must follow. */
    public RemoteFrame wrap(MemorySegment segment, long offset) {
        if (offset < 0 || segment.byteSize() - offset < HEADER_LENGTH) {
            throw new IndexOutOfBoundsException("no room for a frame header at " + offset + " of " + segment.byteSize());
        }
        this.segment = segment;
        this.base = offset;
        return this;
    }

    public int frameLength() { return segment.get(INT, base + LENGTH_OFFSET); }
    public RemoteFrame frameLength(int v) { segment.set(INT, base + LENGTH_OFFSET, v); return this; }
    public int opcode() { return segment.get(ValueLayout.JAVA_BYTE, base + OPCODE_OFFSET) & 0xff; }
    public RemoteFrame opcode(int v) { segment.set(ValueLayout.JAVA_BYTE, base + OPCODE_OFFSET, (byte) v); return this; }
    public RemoteStatus status() { return RemoteStatus.of(segment.get(ValueLayout.JAVA_BYTE, base + STATUS_OFFSET) & 0xff); }
    public RemoteFrame status(RemoteStatus s) { segment.set(ValueLayout.JAVA_BYTE, base + STATUS_OFFSET, (byte) s.code()); return this; }
    public int flags() { return segment.get(SHORT, base + FLAGS_OFFSET) & 0xffff; }
    public RemoteFrame flags(int v) { segment.set(SHORT, base + FLAGS_OFFSET, (short) v); return this; }
    public long requestId() { return segment.get(LONG, base + REQUEST_ID_OFFSET); }
    public RemoteFrame requestId(long v) { segment.set(LONG, base + REQUEST_ID_OFFSET, v); return this; }
    public long arg0() { return segment.get(LONG, base + ARG0_OFFSET); }
    public RemoteFrame arg0(long v) { segment.set(LONG, base + ARG0_OFFSET, v); return this; }
    public long arg1() { return segment.get(LONG, base + ARG1_OFFSET); }
    public RemoteFrame arg1(long v) { segment.set(LONG, base + ARG1_OFFSET, v); return this; }
    public long arg2() { return segment.get(LONG, base + ARG2_OFFSET); }
    public RemoteFrame arg2(long v) { segment.set(LONG, base + ARG2_OFFSET, v); return this; }
    public long arg3() { return segment.get(LONG, base + ARG3_OFFSET); }
    public RemoteFrame arg3(long v) { segment.set(LONG, base + ARG3_OFFSET, v); return this; }

    /** Payload bytes declared by the length field, or -1 when the length field is out of bounds. */
    public int payloadLength() {
        int len = frameLength();
        return len < HEADER_LENGTH || len > MAX_FRAME ? -1 : len - HEADER_LENGTH;
    }
}
