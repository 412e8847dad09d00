package dev.strata.deploy;

import dev.strata.nbd.NbdCommands;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code strata nbd serve|list}: the NBD bridge's server and a client listing exports. */
@Command(name = "nbd", mixinStandardHelpOptions = true, description = "Serve a backend over NBD, or list a server's exports.",
        subcommands = {NbdCommand.Serve.class, NbdCommand.ListExports.class})
public final class NbdCommand implements Runnable {
    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    @Command(name = "serve", mixinStandardHelpOptions = true,
            description = "Serve a backend as an NBD export until SIGTERM/SIGINT.")
    static final class Serve implements Callable<Integer> {
        @Option(names = "--backend", defaultValue = "memory:1G", description = "memory:SIZE | file:PATH | "
                + "dir:PATH[:SIZE] | s3://bucket/key?... | redis://host:port/... | nbd://host:port/name "
                + "| memnode://host:port[/key]?size=... | partition:DIR?size=... "
                + "(default: ${DEFAULT-VALUE})")
        String backend;

        @Option(names = "--bind", defaultValue = "127.0.0.1", description = "address to listen on (default: ${DEFAULT-VALUE})")
        String bind;

        @Option(names = "--port", defaultValue = "10809", description = "TCP port, 0 for any (default: ${DEFAULT-VALUE})")
        int port;

        @Option(names = "--name", defaultValue = "", description = "export name (default: the empty default export)")
        String name;

        @Option(names = "--read-only", description = "refuse writes, trims and zeroing")
        boolean readOnly;

        @Option(names = "--tls-keystore", description = "PKCS#12 key store: enables STARTTLS")
        Path tlsKeystore;

        @Option(names = "--tls-password", defaultValue = "", description = "key store password")
        String tlsPassword;

        @Option(names = "--tls-required", description = "refuse clients that do not start TLS")
        boolean tlsRequired;

        @Option(names = "--no-warm-up", negatable = false,
                description = "skip the JIT warm-up (about a second of loopback requests) before listening")
        boolean noWarmUp;

        @Override
        public Integer call() throws Exception {
            if (!noWarmUp) {
                dev.strata.nbd.JitWarmUp.runBeforeServing(1500);
            }
            var options = new NbdCommands.ServeOptions(backend, bind, port, name, readOnly, tlsKeystore, tlsPassword,
                    tlsRequired);
            try (NbdCommands.Served served = NbdCommands.serve(options)) {
                System.out.println("nbd://" + bind + ":" + served.server().port() + "/" + name);
                System.out.flush();
                CountDownLatch stop = new CountDownLatch(1);
                Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown, "nbd-serve-shutdown"));
                stop.await();
            }
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List the exports of an NBD server.")
    static final class ListExports implements Callable<Integer> {
        @Parameters(index = "0", description = "server host")
        String host;

        @Parameters(index = "1", defaultValue = "10809", description = "server port (default: ${DEFAULT-VALUE})")
        int port;

        @Override
        public Integer call() throws Exception {
            NbdCommands.list(host, port).forEach(System.out::println);
            return 0;
        }
    }
}
