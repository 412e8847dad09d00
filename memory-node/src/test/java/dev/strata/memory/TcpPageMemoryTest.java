package dev.strata.memory;

import java.net.InetSocketAddress;

class TcpPageMemoryTest extends PageMemoryContract {
    @Override
    protected MemoryNodeClient connect(MemoryNode node) {
        return MemoryNodeClient.connect(new InetSocketAddress("127.0.0.1", node.port()), ClientOptions.defaults().withRequestTimeout(java.time.Duration.ofSeconds(10)));
    }
}
