package dev.strata.memory;

import java.net.InetSocketAddress;
import java.time.Duration;

/** The page behaviour suite over TCP with caller-runs I/O (a connection per calling thread). */
class CallerRunsPageMemoryTest extends PageMemoryContract {
    @Override
    protected MemoryNodeClient connect(MemoryNode node) {
        return MemoryNodeClient.connect(new InetSocketAddress("127.0.0.1", node.port()),
                ClientOptions.defaults().withRequestTimeout(Duration.ofSeconds(10)).withCallerRunsIo(true));
    }
}
