package dev.strata.memory.internal;

import static dev.strata.core.remote.RemoteFrameDescriptor.*;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;

/**
 * Splits the stream into frames. The length field is checked before anything is buffered for it:
 * outside {@code [HEADER_LENGTH, MAX_FRAME]} the decoder stops reading, discards the input and calls
 * {@link #badLength}, since the stream cannot be resynchronized. So a connection never buffers more
 * than one maximal frame. One instance per channel.
 */
class FrameDecoder extends ByteToMessageDecoder {
    private boolean failed;

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (failed) {
            in.skipBytes(in.readableBytes());
            return;
        }
        while (in.readableBytes() >= 4) {
            int len = in.getIntLE(in.readerIndex());
            if (len < HEADER_LENGTH || len > MAX_FRAME) {
                failed = true;
                long id = in.readableBytes() >= REQUEST_ID_OFFSET + 8 ? in.getLongLE(in.readerIndex() + REQUEST_ID_OFFSET) : 0;
                int op = in.readableBytes() > OPCODE_OFFSET ? in.getUnsignedByte(in.readerIndex() + OPCODE_OFFSET) : 0;
                in.skipBytes(in.readableBytes());
                badLength(ctx, op, id, len);
                return;
            }
            if (in.readableBytes() < len) {
                return;
            }
            out.add(in.readRetainedSlice(len));
        }
    }

    /** Called once when a length field is out of bounds; the default closes the channel. */
    protected void badLength(ChannelHandlerContext ctx, int opcode, long requestId, int length) {
        ctx.close();
    }
}
