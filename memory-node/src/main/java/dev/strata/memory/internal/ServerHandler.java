package dev.strata.memory.internal;

import static dev.strata.core.remote.RemoteFrameDescriptor.*;

import dev.strata.core.PageSize;
import dev.strata.core.remote.RegionTable;
import dev.strata.core.remote.RemoteMemoryException;
import dev.strata.core.remote.RemoteRegion;
import dev.strata.core.remote.RemoteStatus;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Serves one connection: each frame is checked (payload size against its opcode, lengths against
 * {@link dev.strata.core.remote.RemoteFrameDescriptor#MAX_PAYLOAD}, offsets against the region)
 * before any allocation, executed on the I/O thread (a bounded copy, never a blocking call) and
 * answered in order; answers are flushed once per read burst. A protocol error is answered with its
 * precise status and the connection stays usable, except a bad length field (then it closes).
 */
final class ServerHandler extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = Logger.getLogger(ServerHandler.class.getName());

    private final PageFrames pages;
    private final RegionTable regions;
    private final TcpServer.Counters counters;
    private final int[] crcOut = new int[1];
    private final long[] prevOut = new long[1];

    ServerHandler(PageFrames pages, RegionTable regions, TcpServer.Counters counters) {
        this.pages = pages;
        this.regions = regions;
        this.counters = counters;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf f = (ByteBuf) msg;
        try {
            ByteBuf reply = serve(ctx.alloc(), f);
            ctx.write(reply, ctx.voidPromise());
        } finally {
            f.release();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        ctx.flush();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!(cause instanceof IOException)) {
            LOG.log(Level.WARNING, "memory-node connection " + ctx.channel().remoteAddress() + " failed", cause);
        }
        ctx.close();
    }

    private ByteBuf serve(ByteBufAllocator alloc, ByteBuf f) {
        int op = Frames.opcode(f);
        long id = Frames.id(f);
        int payload = Frames.payloadLength(f);
        counters.bytesIn.add(payload);
        try {
            return switch (op) {
                case OP_PING -> payload == 0 ? ok(alloc, op, id) : error(alloc, op, id, RemoteStatus.BAD_FRAME);
                case OP_READ -> read(alloc, f, op, id, payload);
                case OP_WRITE -> write(alloc, f, op, id, payload);
                case OP_CAS -> cas(alloc, f, op, id, payload);
                case OP_REGION_ALLOC -> regionAlloc(alloc, f, op, id, payload);
                case OP_REGION_FREE -> payload != 0 ? error(alloc, op, id, RemoteStatus.BAD_FRAME)
                        : status(alloc, op, id, regions.free(Frames.arg0(f)));
                case OP_PAGE_GET -> pageGet(alloc, f, op, id, payload);
                case OP_PAGE_PUT -> pagePut(alloc, f, op, id, payload);
                case OP_PAGE_FREE -> payload != 0 ? error(alloc, op, id, RemoteStatus.BAD_FRAME)
                        : status(alloc, op, id, pages.free(Frames.arg0(f), Frames.arg1(f)));
                case OP_FENCE -> fence(alloc, f, op, id, payload);
                default -> error(alloc, op, id, RemoteStatus.UNKNOWN_OPCODE);
            };
        } catch (RemoteMemoryException e) {
            return error(alloc, op, id, e.status());
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "memory-node request op=" + op + " failed", e);
            return error(alloc, op, id, RemoteStatus.INTERNAL);
        }
    }

    private ByteBuf read(ByteBufAllocator alloc, ByteBuf f, int op, long id, int payload) {
        long key = Frames.arg0(f), off = Frames.arg1(f), len = Frames.arg2(f);
        if (payload != 0) {
            return error(alloc, op, id, RemoteStatus.BAD_FRAME);
        }
        if (len < 0 || len > MAX_PAYLOAD) {
            return error(alloc, op, id, len < 0 ? RemoteStatus.OUT_OF_RANGE : RemoteStatus.TOO_LARGE);
        }
        RemoteStatus s = regions.check(key, off, len);
        if (s != RemoteStatus.OK) {
            return error(alloc, op, id, s);
        }
        ByteBuf b = Frames.header(alloc, (int) len, op, RemoteStatus.OK, id, key, off, len, 0);
        s = regions.read(key, off, Frames.appendView(b, (int) len));
        if (s != RemoteStatus.OK) {
            b.release();
            return error(alloc, op, id, s);
        }
        counters.bytesOut.add(len);
        return Frames.seal(b);
    }

    private ByteBuf write(ByteBufAllocator alloc, ByteBuf f, int op, long id, int payload) {
        long key = Frames.arg0(f), off = Frames.arg1(f), len = Frames.arg2(f);
        if (len != payload) {
            return error(alloc, op, id, RemoteStatus.BAD_FRAME);
        }
        return status(alloc, op, id, regions.write(key, off, Frames.payload(f)));
    }

    private ByteBuf cas(ByteBufAllocator alloc, ByteBuf f, int op, long id, int payload) {
        if (payload != 0) {
            return error(alloc, op, id, RemoteStatus.BAD_FRAME);
        }
        RemoteStatus s = regions.compareAndSwap(Frames.arg0(f), Frames.arg1(f), Frames.arg2(f), Frames.arg3(f), prevOut);
        if (s != RemoteStatus.OK) {
            return error(alloc, op, id, s);
        }
        return Frames.seal(Frames.header(alloc, 0, op, RemoteStatus.OK, id, Frames.arg0(f), Frames.arg1(f), prevOut[0], 0));
    }

    private ByteBuf regionAlloc(ByteBufAllocator alloc, ByteBuf f, int op, long id, int payload) {
        if (payload != 0) {
            return error(alloc, op, id, RemoteStatus.BAD_FRAME);
        }
        RemoteRegion r = regions.allocate(Frames.arg2(f));
        if (r == null) {
            return error(alloc, op, id, RemoteStatus.FULL);
        }
        return Frames.seal(Frames.header(alloc, 0, op, RemoteStatus.OK, id, r.key(), 0, r.length(), 0));
    }

    private ByteBuf pageGet(ByteBufAllocator alloc, ByteBuf f, int op, long id, int payload) {
        int sc = sizeClassOf(Frames.arg3(f));
        if (payload != 0) {
            return error(alloc, op, id, RemoteStatus.BAD_FRAME);
        }
        if (sc > PageSize.MAX_CLASS) {
            return error(alloc, op, id, RemoteStatus.OUT_OF_RANGE);
        }
        int bytes = PageSize.bytes(sc);
        ByteBuf b = Frames.header(alloc, bytes, op, RemoteStatus.OK, id, Frames.arg0(f), 0, 0, 0);
        MemorySegment view = Frames.appendView(b, bytes);
        long lsn = pages.get(Frames.arg0(f), sc, view, crcOut);
        if (lsn < 0) {
            b.release();
            return error(alloc, op, id, RemoteStatus.NOT_FOUND);
        }
        b.setLongLE(ARG2_OFFSET, lsn);
        b.setLongLE(ARG3_OFFSET, crcAndClass(crcOut[0], sc));
        counters.bytesOut.add(bytes);
        return Frames.seal(b);
    }

    private ByteBuf pagePut(ByteBufAllocator alloc, ByteBuf f, int op, long id, int payload) {
        long a3 = Frames.arg3(f);
        int sc = sizeClassOf(a3);
        if (sc > PageSize.MAX_CLASS) {
            return error(alloc, op, id, RemoteStatus.OUT_OF_RANGE);
        }
        if (payload != PageSize.bytes(sc)) {
            return error(alloc, op, id, RemoteStatus.BAD_FRAME);
        }
        return status(alloc, op, id, pages.put(Frames.arg0(f), Frames.arg1(f), Frames.arg2(f), crcOf(a3), Frames.payload(f)));
    }

    private ByteBuf fence(ByteBufAllocator alloc, ByteBuf f, int op, long id, int payload) {
        long partition = Frames.arg0(f);
        if (payload != 0) {
            return error(alloc, op, id, RemoteStatus.BAD_FRAME);
        }
        if (partition < 0 || partition > dev.strata.core.PageId.MAX_PARTITION) {
            return error(alloc, op, id, RemoteStatus.OUT_OF_RANGE);
        }
        long now = pages.fence((int) partition, Frames.arg1(f));
        return Frames.seal(Frames.header(alloc, 0, op, RemoteStatus.OK, id, partition, now, 0, 0));
    }

    private ByteBuf ok(ByteBufAllocator alloc, int op, long id) {
        return Frames.seal(Frames.header(alloc, 0, op, RemoteStatus.OK, id, 0, 0, 0, 0));
    }

    private ByteBuf status(ByteBufAllocator alloc, int op, long id, RemoteStatus s) {
        if (s.ordinal() > RemoteStatus.STALE_LSN.ordinal()) {
            counters.badFrames.increment();
        }
        return Frames.seal(Frames.header(alloc, 0, op, s, id, 0, 0, 0, 0));
    }

    private ByteBuf error(ByteBufAllocator alloc, int op, long id, RemoteStatus s) {
        return status(alloc, op, id, s);
    }

    /** Answer for a frame whose length field is out of bounds; the caller closes after the flush. */
    static void badLength(ChannelHandlerContext ctx, int op, long id, TcpServer.Counters counters) {
        counters.badFrames.increment();
        ByteBuf b = Frames.seal(Frames.header(ctx.alloc(), 0, op, RemoteStatus.BAD_FRAME, id, 0, 0, 0, 0));
        ctx.writeAndFlush(b).addListener(ChannelFutureListener.CLOSE);
    }
}
