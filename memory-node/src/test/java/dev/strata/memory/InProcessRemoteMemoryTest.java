package dev.strata.memory;

import dev.strata.core.remote.RemoteMemory;

class InProcessRemoteMemoryTest extends RemoteMemoryContract {
    @Override
    protected RemoteMemory connect(MemoryNode node) {
        return node.localClient();
    }
}
