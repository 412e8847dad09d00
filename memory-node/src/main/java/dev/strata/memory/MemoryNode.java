package dev.strata.memory;

import dev.strata.core.ByteSize;
import dev.strata.core.remote.MemoryBudget;
import dev.strata.core.remote.RegionTable;
import dev.strata.memory.internal.LocalClient;
import dev.strata.memory.internal.NodeStats;
import dev.strata.memory.internal.PageFrames;
import dev.strata.memory.internal.TcpServer;
import java.util.logging.Logger;

/**
 * A memory node: page frames and registered regions in off-heap memory under one capacity bound,
 * served over TCP. Lifecycle:
 *
 * <pre>
 *   start() ──▶ RUNNING ──close()──▶ CLOSED      (close is idempotent; listener, I/O threads, then memory)
 * </pre>
 */
public final class MemoryNode implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(MemoryNode.class.getName());

    private final MemoryNodeConfig config;
    private final MemoryBudget budget;
    private final PageFrames pages;
    private final RegionTable regions;
    private final TcpServer server;
    private boolean closed;

    private MemoryNode(MemoryNodeConfig config) throws InterruptedException {
        this.config = config;
        this.budget = new MemoryBudget(config.capacityBytes());
        this.pages = new PageFrames(config.capacityBytes(), budget, config.hugePages());
        this.regions = new RegionTable(budget);
        try {
            this.server = new TcpServer(config.bind(), config.port(), config.ioThreads(), config.pollMicros(), pages, regions);
        } catch (RuntimeException | InterruptedException e) {
            regions.close();
            pages.close();
            throw e;
        }
    }

    /** Starts a node listening on {@code config.bind():config.port()} (port 0: any free port). */
    public static MemoryNode start(MemoryNodeConfig config) throws InterruptedException {
        MemoryNode n = new MemoryNode(config);
        LOG.info("memory-node listening on " + config.bind() + ":" + n.port() + " (" + config.withPort(n.port())
                + ", transport " + (TcpServer.epoll() ? "epoll" : "nio") + ")");
        return n;
    }

    public int port() {
        return server.port();
    }

    public MemoryNodeConfig config() {
        return config;
    }

    /** An in-process client over this node's tables (no sockets). */
    public MemoryNodeClient localClient() {
        return new LocalClient(pages, regions);
    }

    public MemoryNodeStats stats() {
        return NodeStats.of(pages, budget, server.counters());
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException failure = null;
        for (AutoCloseable c : new AutoCloseable[] {server, regions, pages}) {
            try {
                c.close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = new RuntimeException("closing memory node", e);
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        LOG.info("memory-node on port " + config.port() + " closed, " + ByteSize.format(budget.used()) + " still charged");
        if (failure != null) {
            throw failure;
        }
    }
}
