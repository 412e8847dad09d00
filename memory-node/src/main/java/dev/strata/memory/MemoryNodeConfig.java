package dev.strata.memory;

import dev.strata.core.ByteSize;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * Configuration of one memory node. Keys when read from a properties file:
 *
 * <table>
 * <caption>strata.memory.*</caption>
 * <tr><th>key</th><th>default</th><th>meaning</th></tr>
 * <tr><td>strata.memory.bind</td><td>127.0.0.1</td><td>listen address</td></tr>
 * <tr><td>strata.memory.port</td><td>7600</td><td>listen port (0 = any free port)</td></tr>
 * <tr><td>strata.memory.capacity</td><td>1GiB</td><td>bytes of page frames and regions the node may hold</td></tr>
 * <tr><td>strata.memory.io-threads</td><td>2</td><td>Netty I/O threads</td></tr>
 * <tr><td>strata.memory.huge-pages</td><td>false</td><td>back page frames with transparent huge pages ({@code madvise(MADV_HUGEPAGE)})</td></tr>
 * <tr><td>strata.memory.poll-us</td><td>50</td><td>after any request an I/O thread keeps polling its sockets
 *     this many µs before it sleeps in the kernel (0 = always sleep): a request arriving meanwhile
 *     skips the scheduler wake-up; an idle node uses no CPU once the window has passed</td></tr>
 * </table>
 */
public record MemoryNodeConfig(String bind, int port, long capacityBytes, int ioThreads, boolean hugePages, int pollMicros) {
    public MemoryNodeConfig {
        if (bind == null || bind.isBlank()) {
            throw new IllegalArgumentException("strata.memory.bind must be an address");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("strata.memory.port out of range: " + port);
        }
        if (capacityBytes < (1 << 20) || capacityBytes > (1L << 44)) {
            throw new IllegalArgumentException("strata.memory.capacity must be in [1 MiB, 16 TiB]: "
                    + ByteSize.format(capacityBytes));
        }
        if (ioThreads < 1 || ioThreads > 64) {
            throw new IllegalArgumentException("strata.memory.io-threads must be in [1, 64]: " + ioThreads);
        }
        if (pollMicros < 0 || pollMicros > 1_000_000) {
            throw new IllegalArgumentException("strata.memory.poll-us must be in [0, 1000000]: " + pollMicros);
        }
    }

    public static MemoryNodeConfig defaults() {
        return new MemoryNodeConfig("127.0.0.1", 7600, 1L << 30, 2, false, 50);
    }

    /** Overlays {@code strata.memory.*} keys of a properties file on {@code base}. */
    public static MemoryNodeConfig load(Path file, MemoryNodeConfig base) throws IOException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file)) {
            p.load(r);
        }
        for (String key : p.stringPropertyNames()) {
            if (key.startsWith("strata.memory.") && !key.matches("strata\\.memory\\.(bind|port|capacity|io-threads|huge-pages|poll-us)")) {
                throw new IllegalArgumentException("unknown key in " + file + ": " + key);
            }
        }
        return new MemoryNodeConfig(p.getProperty("strata.memory.bind", base.bind).trim(),
                Integer.parseInt(p.getProperty("strata.memory.port", Integer.toString(base.port)).trim()),
                ByteSize.parse(p.getProperty("strata.memory.capacity", Long.toString(base.capacityBytes))),
                Integer.parseInt(p.getProperty("strata.memory.io-threads", Integer.toString(base.ioThreads)).trim()),
                Boolean.parseBoolean(p.getProperty("strata.memory.huge-pages", Boolean.toString(base.hugePages)).trim()),
                Integer.parseInt(p.getProperty("strata.memory.poll-us", Integer.toString(base.pollMicros)).trim()));
    }

    public MemoryNodeConfig withPort(int p) {
        return new MemoryNodeConfig(bind, p, capacityBytes, ioThreads, hugePages, pollMicros);
    }

    public MemoryNodeConfig withCapacity(long bytes) {
        return new MemoryNodeConfig(bind, port, bytes, ioThreads, hugePages, pollMicros);
    }

    public MemoryNodeConfig withIoThreads(int n) {
        return new MemoryNodeConfig(bind, port, capacityBytes, n, hugePages, pollMicros);
    }

    public MemoryNodeConfig withBind(String address) {
        return new MemoryNodeConfig(address, port, capacityBytes, ioThreads, hugePages, pollMicros);
    }

    public MemoryNodeConfig withHugePages(boolean on) {
        return new MemoryNodeConfig(bind, port, capacityBytes, ioThreads, on, pollMicros);
    }

    public MemoryNodeConfig withPollMicros(int us) {
        return new MemoryNodeConfig(bind, port, capacityBytes, ioThreads, hugePages, us);
    }

    @Override
    public String toString() {
        return "strata.memory.bind=" + bind + ", port=" + port + ", capacity=" + ByteSize.format(capacityBytes)
                + ", io-threads=" + ioThreads + ", huge-pages=" + hugePages
                + ", poll-us=" + pollMicros;
    }
}
