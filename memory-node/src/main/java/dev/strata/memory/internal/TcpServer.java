package dev.strata.memory.internal;

import dev.strata.core.remote.RegionTable;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/** The memory node's listening socket and I/O threads ({@code memory-node-io-N}). Closes idempotently. */
public final class TcpServer implements AutoCloseable {
    /** Transport counters shared by all connections. */
    public static final class Counters {
        public final LongAdder badFrames = new LongAdder();
        public final LongAdder bytesIn = new LongAdder();
        public final LongAdder bytesOut = new LongAdder();
        public final LongAdder connections = new LongAdder();
    }

    private final EventLoopGroup boss;
    private final EventLoopGroup io;
    private final Channel listener;
    private final Counters counters = new Counters();
    private boolean closed;

    public TcpServer(String bind, int port, int ioThreads, int pollMicros, PageFrames pages, RegionTable regions) throws InterruptedException {
        boss = Transports.group(1, "memory-node-accept");
        io = Transports.group(ioThreads, "memory-node-io", TimeUnit.MICROSECONDS.toNanos(pollMicros));
        try {
            ServerBootstrap b = new ServerBootstrap()
                    .group(boss, io)
                    .channel(Transports.serverChannel())
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            counters.connections.increment();
                            ch.pipeline().addLast("frames", new FrameDecoder() {
                                @Override
                                protected void badLength(ChannelHandlerContext ctx, int op, long id, int length) {
                                    ServerHandler.badLength(ctx, op, id, counters);
                                }
                            });
                            ch.pipeline().addLast("serve", new ServerHandler(pages, regions, counters));
                        }
                    });
            listener = b.bind(bind, port).sync().channel();
        } catch (RuntimeException | InterruptedException e) {
            shutdown();
            throw e;
        }
    }

    public int port() {
        return ((InetSocketAddress) listener.localAddress()).getPort();
    }

    public Counters counters() {
        return counters;
    }

    public static boolean epoll() {
        return Transports.epoll();
    }

    private void shutdown() {
        boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        io.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        listener.close().syncUninterruptibly();
        shutdown();
    }
}
