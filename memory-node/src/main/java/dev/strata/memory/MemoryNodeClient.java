package dev.strata.memory;

import dev.strata.core.remote.RemoteMemory;
import dev.strata.memory.internal.SyncTcpClient;
import dev.strata.memory.internal.TcpClient;
import java.net.InetSocketAddress;

/**
 * A connection to one memory node: one-sided region operations ({@link RemoteMemory}) and page
 * frames ({@link PageMemory}) over the same pipelined transport. Obtain one with
 * {@link #connect} (Netty TCP) or {@link MemoryNode#localClient()} (in-process).
 */
public interface MemoryNodeClient extends RemoteMemory, PageMemory {
    /** The node's address, for logs ({@code "in-process"} for a local client). */
    String address();

    /** Requests sent and not yet answered: the load measure replica selection uses. */
    int inFlight();

    /** True unless the connection is known to be down (then requests fail fast until a reconnect). */
    boolean isAvailable();

    /**
     * Connects over TCP: pipelined over one connection with its own I/O thread (epoll where
     * available), or, with {@link ClientOptions#callerRunsIo()}, one connection per calling thread
     * that does its own I/O (then every returned future is already complete).
     */
    static MemoryNodeClient connect(InetSocketAddress address, ClientOptions options) {
        return options.callerRunsIo() ? new SyncTcpClient(address, options) : TcpClient.connect(address, options);
    }

    @Override
    void close();
}
