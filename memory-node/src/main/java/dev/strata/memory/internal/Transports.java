package dev.strata.memory.internal;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;

/** Native epoll where it loads, NIO otherwise; named daemon I/O threads. */
final class Transports {
    private Transports() {}

    static boolean epoll() {
        return Epoll.isAvailable();
    }

    static EventLoopGroup group(int threads, String name) {
        return group(threads, name, 0);
    }

    /**
     * {@code pollNanos > 0}: each loop polls for that long after activity before it sleeps (see
     * {@link PollingSelectStrategy}); epoll only.
     */
    static EventLoopGroup group(int threads, String name, long pollNanos) {
        IoHandlerFactory f = !epoll() ? NioIoHandler.newFactory()
                : pollNanos > 0 ? EpollIoHandler.newFactory(0, () -> new PollingSelectStrategy(pollNanos))
                : EpollIoHandler.newFactory();
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(name, true), f);
    }

    static Class<? extends ServerChannel> serverChannel() {
        return epoll() ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    static Class<? extends SocketChannel> channel() {
        return epoll() ? EpollSocketChannel.class : NioSocketChannel.class;
    }
}
