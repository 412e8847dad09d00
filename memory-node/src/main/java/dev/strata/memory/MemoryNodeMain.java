package dev.strata.memory;

import dev.strata.core.ByteSize;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * Command-line entry of a memory node, without picocli so {@code ./strata memory-node} can delegate
 * to it: {@code --port N [--bind ADDR] [--config FILE] [--capacity 1G] [--io-threads N] [--poll-us N] [--huge-pages]}. Flags
 * override the file. Prints {@code memory-node listening on HOST:PORT} on stdout once serving, and
 * stops cleanly on SIGTERM/SIGINT (shutdown hook closes the node).
 */
public final class MemoryNodeMain {
    private MemoryNodeMain() {}

    public static void main(String[] args) throws Exception {
        MemoryNodeConfig config;
        try {
            config = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("memory-node: " + e.getMessage());
            System.err.println("usage: memory-node --port N [--bind ADDR] [--config FILE] [--capacity 1G] [--io-threads N] [--poll-us N] [--huge-pages]");
            System.exit(2);
            return;
        }
        MemoryNode node = MemoryNode.start(config);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            node.close();
            stopped.countDown();
        }, "memory-node-shutdown"));
        System.out.println("memory-node listening on " + config.bind() + ":" + node.port());
        System.out.flush();
        stopped.await();
    }

    static MemoryNodeConfig parse(String[] args) throws java.io.IOException {
        MemoryNodeConfig c = MemoryNodeConfig.defaults();
        for (int i = 0; i < args.length; i++) {
            if ("--config".equals(args[i])) {
                c = MemoryNodeConfig.load(Path.of(value(args, ++i, "--config")), c);
            }
        }
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--config" -> i++;
                case "--port" -> c = c.withPort(Integer.parseInt(value(args, ++i, a)));
                case "--capacity" -> c = c.withCapacity(ByteSize.parse(value(args, ++i, a)));
                case "--io-threads" -> c = c.withIoThreads(Integer.parseInt(value(args, ++i, a)));
                case "--bind" -> c = c.withBind(value(args, ++i, a));
                case "--huge-pages" -> c = c.withHugePages(true);
                case "--poll-us" -> c = c.withPollMicros(Integer.parseInt(value(args, ++i, a)));
                default -> throw new IllegalArgumentException("unknown argument: " + a);
            }
        }
        return c;
    }

    private static String value(String[] args, int i, String flag) {
        if (i >= args.length) {
            throw new IllegalArgumentException(flag + " needs a value");
        }
        return args[i];
    }
}
