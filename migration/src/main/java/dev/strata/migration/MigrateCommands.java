package dev.strata.migration;

import dev.strata.core.ByteSize;
import dev.strata.nbd.Backend;
import dev.strata.nbd.Backends;
import dev.strata.nbd.Export;
import dev.strata.nbd.NbdServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Picocli-free entry points for {@code strata migrate seed|leech}. Each static method does the work
 * and returns; {@link #main} parses plain {@code --key value} arguments for use without the CLI:
 *
 * <pre>
 *   migrate seed  --backend memory:1G [--bind 0.0.0.0] [--port 7700] [--chunk 64K] [--epoch 1]
 *                 [--nbd-port N]  (serve the tracked backend over NBD for the application)
 *                 [--tls-keystore f.p12 --tls-password pw [--tls-client-auth]]
 *   migrate leech --from HOST:PORT [--local memory|file:PATH] [--max-downtime-ms 50] [--max-rounds 30]
 *                 [--finalize-after-ms N] [--nbd-port N] (serve the region over NBD once it is ours)
 *                 [--tls-keystore f.p12 --tls-password pw]
 * </pre>
 */
public final class MigrateCommands {
    private MigrateCommands() {}

    /** Options of {@code migrate seed}. */
    public record SeedOptions(String backend, String bind, int port, long chunkSize, long epoch, int nbdPort,
                              Path tlsKeystore, String tlsPassword, boolean tlsClientAuth) {}

    /** A running seeder, its backend and the optional NBD export of the tracked view; closed in reverse. */
    public record Seeded(Seeder seeder, Backend backend, NbdServer nbd) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            try {
                if (nbd != null) {
                    nbd.close();
                }
            } finally {
                try {
                    seeder.close();
                } finally {
                    backend.close();
                }
            }
        }
    }

    /** Opens the backend and starts the seeder (and the NBD export, if asked); returns at once. */
    public static Seeded seed(SeedOptions o) throws IOException {
        Backend backend = Backends.open(o.backend(), false);
        Seeder seeder = null;
        try {
            SSLContext tls = o.tlsKeystore() == null ? null : tlsContext(o.tlsKeystore(), o.tlsPassword());
            SeederConfig cfg = SeederConfig.defaults().withBind(InetAddress.getByName(o.bind())).withPort(o.port())
                    .withChunkSize((int) o.chunkSize()).withEpoch(o.epoch()).withTls(tls, o.tlsClientAuth());
            seeder = Seeder.start(backend, cfg);
            NbdServer nbd = o.nbdPort() < 0 ? null : NbdServer.start(InetAddress.getByName(o.bind()), o.nbdPort(),
                    List.of(new Export("migrating", o.backend(), seeder.backend(), false)), null, false);
            return new Seeded(seeder, backend, nbd);
        } catch (IOException | RuntimeException e) {
            if (seeder != null) {
                seeder.close();
            }
            backend.close();
            throw e;
        }
    }

    /** Options of {@code migrate leech}. */
    public record LeechOptions(String from, String local, Duration maxDowntime, int maxRounds, Duration finalizeAfter,
                               int nbdPort, Path tlsKeystore, String tlsPassword) {}

    /** A leecher that serves the region, and its optional NBD export. */
    public record Leeched(Leecher leecher, MigrationReport report, NbdServer nbd) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            try {
                if (nbd != null) {
                    nbd.close();
                }
            } finally {
                leecher.close();
            }
        }
    }

    /**
     * Migrates the region from the seeder at {@code o.from()}, printing a progress line to
     * {@code progressOut} (null for none) every 250 ms; returns once this side serves.
     */
    public static Leeched leech(LeechOptions o, PrintStream progressOut) throws IOException {
        int colon = o.from().lastIndexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("--from must be HOST:PORT: " + o.from());
        }
        InetSocketAddress from = new InetSocketAddress(o.from().substring(0, colon),
                Integer.parseInt(o.from().substring(colon + 1)));
        LeecherConfig cfg = LeecherConfig.defaults().withMaxDowntime(o.maxDowntime()).withMaxRounds(o.maxRounds());
        if (o.tlsKeystore() != null) {
            cfg = cfg.withTls(tlsContext(o.tlsKeystore(), o.tlsPassword()));
        }
        if (o.local() != null && !o.local().equals("memory")) {
            String spec = o.local();
            cfg = cfg.withLocal(size -> {
                try {
                    return Backends.open(spec + ":" + size, false);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        }
        Leecher leecher = Leecher.open(from, cfg);
        CountDownLatch done = new CountDownLatch(1);
        Thread printer = progressOut == null ? null : Thread.ofPlatform().name("migrate-progress").daemon().start(() -> {
            try {
                do {
                    progressOut.print("\r" + leecher.progress().line() + "   ");
                    progressOut.flush();
                } while (!done.await(250, java.util.concurrent.TimeUnit.MILLISECONDS));
            } catch (InterruptedException ignored) {
                // stop printing
            }
        });
        Thread finalizer = null;
        if (o.finalizeAfter() != null) {
            finalizer = Thread.ofVirtual().name("migrate-finalize-timer").start(() -> {
                try {
                    if (!done.await(o.finalizeAfter().toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS)) {
                        leecher.requestFinalize();
                    }
                } catch (InterruptedException ignored) {
                    // migration over
                }
            });
        }
        try {
            MigrationReport report = leecher.migrate();
            NbdServer nbd = o.nbdPort() < 0 ? null : NbdServer.start(InetAddress.getLoopbackAddress(), o.nbdPort(),
                    List.of(new Export("migrated", o.from(), leecher.backend(), false)), null, false);
            return new Leeched(leecher, report, nbd);
        } catch (IOException | RuntimeException e) {
            leecher.close();
            throw e;
        } finally {
            done.countDown();
            if (printer != null) {
                try {
                    printer.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                progressOut.println("\r" + leecher.progress().line());
            }
            if (finalizer != null) {
                finalizer.interrupt();
            }
        }
    }

    /** A TLS context whose keys and trusted certificates both come from one PKCS12 file. */
    public static SSLContext tlsContext(Path keystore, String password) throws IOException {
        try (InputStream in = Files.newInputStream(keystore)) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(in, password.toCharArray());
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, password.toCharArray());
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            SSLContext ctx = SSLContext.getInstance("TLSv1.3");
            ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot load TLS key store " + keystore, e);
        }
    }

    /** {@code seed …} runs until killed; {@code leech …} migrates, prints the report, serves until killed if --nbd-port. */
    public static void main(String[] args) throws Exception {
        if (args.length == 0 || !(args[0].equals("seed") || args[0].equals("leech"))) {
            System.err.println("usage: migrate seed --backend SPEC [--port P] ... | migrate leech --from HOST:PORT ...");
            System.exit(2);
        }
        Map<String, String> a = new HashMap<>();
        for (int i = 1; i < args.length; i++) {
            String k = args[i];
            if (!k.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument " + k);
            }
            boolean flag = i + 1 >= args.length || args[i + 1].startsWith("--");
            a.put(k.substring(2), flag ? "true" : args[++i]);
        }
        Path ks = a.containsKey("tls-keystore") ? Path.of(a.get("tls-keystore")) : null;
        String pw = a.getOrDefault("tls-password", "changeit");
        if (args[0].equals("seed")) {
            Seeded s = seed(new SeedOptions(a.getOrDefault("backend", "memory:1G"), a.getOrDefault("bind", "127.0.0.1"),
                    Integer.parseInt(a.getOrDefault("port", "7700")), ByteSize.parse(a.getOrDefault("chunk", "64K")),
                    Long.parseLong(a.getOrDefault("epoch", "1")), Integer.parseInt(a.getOrDefault("nbd-port", "-1")),
                    ks, pw, a.containsKey("tls-client-auth")));
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // exiting
                }
            }));
            System.out.println("seeding " + a.getOrDefault("backend", "memory:1G") + " on port " + s.seeder().port()
                    + (s.nbd() == null ? "" : ", NBD export 'migrating' on port " + s.nbd().port()));
            s.seeder().awaitHandedOver(Duration.ofDays(3650));
            System.out.println("handed over at epoch " + s.seeder().epoch());
            s.close();
        } else {
            String after = a.get("finalize-after-ms");
            Leeched l = leech(new LeechOptions(a.get("from"), a.get("local"),
                    Duration.ofMillis(Long.parseLong(a.getOrDefault("max-downtime-ms", "50"))),
                    Integer.parseInt(a.getOrDefault("max-rounds", "30")),
                    after == null ? null : Duration.ofMillis(Long.parseLong(after)),
                    Integer.parseInt(a.getOrDefault("nbd-port", "-1")), ks, pw), System.err);
            System.out.println(l.report());
            if (l.nbd() != null) {
                System.out.println("serving the region as NBD export 'migrated' on port " + l.nbd().port());
                new CountDownLatch(1).await();
            }
            l.leecher().awaitComplete(Duration.ofHours(1));
            l.close();
        }
    }
}
