package dev.strata.memory;

import dev.strata.core.remote.RemoteMemory;
import java.net.InetSocketAddress;
import java.time.Duration;

/** The behaviour suite over TCP with caller-runs I/O (a connection per calling thread). */
class CallerRunsRemoteMemoryTest extends RemoteMemoryContract {
    @Override
    protected RemoteMemory connect(MemoryNode node) {
        return MemoryNodeClient.connect(new InetSocketAddress("127.0.0.1", node.port()),
                ClientOptions.defaults().withRequestTimeout(Duration.ofSeconds(10)).withCallerRunsIo(true));
    }
}
