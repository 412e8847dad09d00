package dev.strata.deploy;

import dev.strata.memory.MemoryNodeMain;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code strata memory-node}: serves remote page memory until SIGTERM/SIGINT. */
@Command(name = "memory-node", mixinStandardHelpOptions = true,
        description = "Run a memory node: off-heap page frames served with one-sided read/write/CAS over TCP.")
public final class MemoryNodeCommand implements Callable<Integer> {
    @Option(names = "--port", defaultValue = "7070", description = "TCP port, 0 for any (default: ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--bind", description = "address to listen on")
    String bind;

    @Option(names = "--config", description = "properties file with strata.memory.* keys (flags override it)")
    Path config;

    @Option(names = "--capacity", description = "memory to serve, e.g. 1G")
    String capacity;

    @Option(names = "--io-threads", description = "network I/O threads")
    Integer ioThreads;

    @Option(names = "--poll-us", description = "µs an I/O thread polls after a request before it sleeps (0 = never poll; default 50)")
    Integer pollMicros;

    @Override
    public Integer call() throws Exception {
        List<String> args = new ArrayList<>(List.of("--port", Integer.toString(port)));
        if (bind != null) {
            args.addAll(List.of("--bind", bind));
        }
        if (config != null) {
            args.addAll(List.of("--config", config.toString()));
        }
        if (capacity != null) {
            args.addAll(List.of("--capacity", capacity));
        }
        if (ioThreads != null) {
            args.addAll(List.of("--io-threads", ioThreads.toString()));
        }
        if (pollMicros != null) {
            args.addAll(List.of("--poll-us", pollMicros.toString()));
        }
        MemoryNodeMain.main(args.toArray(String[]::new));
        return 0;
    }
}
