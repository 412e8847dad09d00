package dev.strata.deploy;

import dev.strata.migration.MigrateCommands;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code strata migrate seed|leech}: live migration of a region between hosts. */
@Command(name = "migrate", mixinStandardHelpOptions = true,
        description = "Live-migrate a region: a seeder serves it while a leecher pulls it, then hands over.",
        subcommands = {MigrateCommand.Seed.class, MigrateCommand.Leech.class})
public final class MigrateCommand implements Runnable {
    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    private static void add(List<String> args, String flag, Object value) {
        if (value != null) {
            args.add(flag);
            args.add(value.toString());
        }
    }

    @Command(name = "seed", mixinStandardHelpOptions = true,
            description = "Serve a backend to a leecher, tracking writes, until it is handed over.")
    static final class Seed implements Callable<Integer> {
        @Option(names = "--backend", defaultValue = "memory:1G", description = "backend spec (default: ${DEFAULT-VALUE})")
        String backend;

        @Option(names = "--bind", description = "address to listen on")
        String bind;

        @Option(names = "--port", defaultValue = "7700", description = "migration port (default: ${DEFAULT-VALUE})")
        int port;

        @Option(names = "--chunk", description = "chunk size, e.g. 64K")
        String chunk;

        @Option(names = "--epoch", description = "current epoch of the region")
        Long epoch;

        @Option(names = "--nbd-port", description = "also export the region over NBD on this port while seeding")
        Integer nbdPort;

        @Option(names = "--tls-keystore", description = "PKCS#12 key store: migrate over TLS")
        Path tlsKeystore;

        @Option(names = "--tls-password", description = "key store password")
        String tlsPassword;

        @Override
        public Integer call() throws Exception {
            List<String> args = new ArrayList<>(List.of("seed", "--backend", backend, "--port", Integer.toString(port)));
            add(args, "--bind", bind);
            add(args, "--chunk", chunk);
            add(args, "--epoch", epoch);
            add(args, "--nbd-port", nbdPort);
            add(args, "--tls-keystore", tlsKeystore);
            add(args, "--tls-password", tlsPassword);
            MigrateCommands.main(args.toArray(String[]::new));
            return 0;
        }
    }

    @Command(name = "leech", mixinStandardHelpOptions = true,
            description = "Pull a region from a seeder (pre-copy rounds, then finalize), print the report.")
    static final class Leech implements Callable<Integer> {
        @Option(names = "--from", required = true, description = "seeder HOST:PORT")
        String from;

        @Option(names = "--local", description = "local backend spec to migrate into (default: memory)")
        String local;

        @Option(names = "--max-downtime-ms", description = "finalize once the rest fits this downtime (default 50)")
        Long maxDowntimeMs;

        @Option(names = "--max-rounds", description = "pre-copy rounds before finalizing anyway (default 30)")
        Integer maxRounds;

        @Option(names = "--finalize-after-ms", description = "finalize after this long, whatever remains")
        Long finalizeAfterMs;

        @Option(names = "--nbd-port", description = "serve the migrated region over NBD on this port afterwards")
        Integer nbdPort;

        @Option(names = "--tls-keystore", description = "PKCS#12 trust/key store: migrate over TLS")
        Path tlsKeystore;

        @Option(names = "--tls-password", description = "key store password")
        String tlsPassword;

        @Override
        public Integer call() throws Exception {
            List<String> args = new ArrayList<>(List.of("leech", "--from", from));
            add(args, "--local", local);
            add(args, "--max-downtime-ms", maxDowntimeMs);
            add(args, "--max-rounds", maxRounds);
            add(args, "--finalize-after-ms", finalizeAfterMs);
            add(args, "--nbd-port", nbdPort);
            add(args, "--tls-keystore", tlsKeystore);
            add(args, "--tls-password", tlsPassword);
            MigrateCommands.main(args.toArray(String[]::new));
            return 0;
        }
    }
}
