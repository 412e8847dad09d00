package dev.strata.memory;

class InProcessPageMemoryTest extends PageMemoryContract {
    @Override
    protected MemoryNodeClient connect(MemoryNode node) {
        return node.localClient();
    }
}
