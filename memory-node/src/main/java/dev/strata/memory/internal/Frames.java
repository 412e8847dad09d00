package dev.strata.memory.internal;

import static dev.strata.core.remote.RemoteFrameDescriptor.*;

import dev.strata.core.remote.RemoteStatus;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.lang.foreign.MemorySegment;

/**
 * Frame header access on Netty buffers at the offsets of
 * {@link dev.strata.core.remote.RemoteFrameDescriptor} (little-endian), and zero-copy views of
 * payloads as {@link MemorySegment}s.
 */
final class Frames {
    private Frames() {}

    static ByteBuf header(ByteBufAllocator alloc, int payloadCapacity, int opcode, RemoteStatus status, long id,
            long a0, long a1, long a2, long a3) {
        ByteBuf b = alloc.directBuffer(HEADER_LENGTH + payloadCapacity);
        b.writeIntLE(HEADER_LENGTH);
        b.writeByte(opcode);
        b.writeByte(status.code());
        b.writeShortLE(0);
        b.writeLongLE(id);
        b.writeLongLE(a0);
        b.writeLongLE(a1);
        b.writeLongLE(a2);
        b.writeLongLE(a3);
        return b;
    }

    /** Sets the length field to the bytes written so far. */
    static ByteBuf seal(ByteBuf b) {
        b.setIntLE(b.readerIndex() + LENGTH_OFFSET, b.readableBytes());
        return b;
    }

    /** A writable view of the next {@code length} bytes after the writer index; advances it. */
    static MemorySegment appendView(ByteBuf b, int length) {
        int at = b.writerIndex();
        b.ensureWritable(length);
        MemorySegment view = MemorySegment.ofBuffer(b.nioBuffer(at, length));
        b.writerIndex(at + length);
        return view;
    }

    /** The payload of a complete frame (starting at its reader index) as a segment view. */
    static MemorySegment payload(ByteBuf frame) {
        int len = frame.readableBytes() - HEADER_LENGTH;
        return MemorySegment.ofBuffer(frame.nioBuffer(frame.readerIndex() + HEADER_LENGTH, len));
    }

    static int opcode(ByteBuf f) { return f.getUnsignedByte(f.readerIndex() + OPCODE_OFFSET); }
    static RemoteStatus status(ByteBuf f) { return RemoteStatus.of(f.getUnsignedByte(f.readerIndex() + STATUS_OFFSET)); }
    static long id(ByteBuf f) { return f.getLongLE(f.readerIndex() + REQUEST_ID_OFFSET); }
    static long arg0(ByteBuf f) { return f.getLongLE(f.readerIndex() + ARG0_OFFSET); }
    static long arg1(ByteBuf f) { return f.getLongLE(f.readerIndex() + ARG1_OFFSET); }
    static long arg2(ByteBuf f) { return f.getLongLE(f.readerIndex() + ARG2_OFFSET); }
    static long arg3(ByteBuf f) { return f.getLongLE(f.readerIndex() + ARG3_OFFSET); }
    static int payloadLength(ByteBuf f) { return f.readableBytes() - HEADER_LENGTH; }
}
