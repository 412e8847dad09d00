package dev.strata.memory.internal;

import dev.strata.core.remote.MemoryBudget;
import dev.strata.memory.MemoryNodeStats;

/** Builds a {@link MemoryNodeStats} snapshot from the node's counters. */
public final class NodeStats {
    private NodeStats() {}

    public static MemoryNodeStats of(PageFrames p, MemoryBudget budget, TcpServer.Counters c) {
        return new MemoryNodeStats(p.pages(), budget.used(), budget.limit(), p.gets.sum(), p.hits.sum(),
                p.puts.sum(), p.full.sum(), p.staleEpoch.sum(), p.staleLsn.sum(), p.corrupt.sum(),
                c.badFrames.sum(), c.bytesIn.sum(), c.bytesOut.sum());
    }
}
