package dev.strata.memory;

import dev.strata.core.remote.RemoteMemory;
import java.net.InetSocketAddress;

class TcpRemoteMemoryTest extends RemoteMemoryContract {
    @Override
    protected RemoteMemory connect(MemoryNode node) {
        return MemoryNodeClient.connect(new InetSocketAddress("127.0.0.1", node.port()), ClientOptions.defaults().withRequestTimeout(java.time.Duration.ofSeconds(10)));
    }
}
