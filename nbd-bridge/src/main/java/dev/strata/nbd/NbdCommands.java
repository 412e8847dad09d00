package dev.strata.nbd;

import dev.strata.nbd.mount.ManagedMount;
import dev.strata.nbd.mount.MountConfig;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/**
 * Picocli-free entry points for the {@code strata} CLI: {@code nbd serve}, {@code nbd list},
 * {@code mount}. Each static method does the work and returns; {@link #main} parses plain
 * {@code --key value} arguments for use without the CLI.
 */
public final class NbdCommands {
    private NbdCommands() {}

    /** Options of {@code nbd serve}. */
    public record ServeOptions(String backend, String bind, int port, String exportName, boolean readOnly,
                               Path tlsKeystore, String tlsPassword, boolean tlsRequired) {}

    /** A running export: the server and its backend, closed together (server first). */
    public record Served(NbdServer server, Backend backend) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            server.close();
            backend.close();
        }
    }

    /** Opens the backend and starts serving it; returns at once. */
    public static Served serve(ServeOptions o) throws IOException {
        Backend backend = Backends.open(o.backend(), o.readOnly());
        try {
            SSLContext tls = o.tlsKeystore() == null ? null : sslContext(o.tlsKeystore(), o.tlsPassword());
            NbdServer server = NbdServer.start(InetAddress.getByName(o.bind()), o.port(),
                    List.of(new Export(o.exportName(), o.backend(), backend, o.readOnly())), tls, o.tlsRequired());
            return new Served(server, backend);
        } catch (IOException | RuntimeException e) {
            backend.close();
            throw e;
        }
    }

    /** How a mount is presented: the kernel's {@code /dev/nbdX}, an nbdfuse file, or the device when usable. */
    public enum Frontend {
        /** {@code /dev/nbdX} through the kernel nbd client ({@link NbdDevice}); fails if no device is usable. */
        DEVICE,
        /** {@code <dir>/nbd} through nbdfuse ({@link NbdfuseFile}). */
        FUSE,
        /** DEVICE when {@code /dev/nbd0} exists and a device is usable, else FUSE. */
        AUTO;

        /** {@code device}, {@code fuse} or {@code auto}. */
        public static Frontend parse(String s) {
            return switch (s) {
                case "device" -> DEVICE;
                case "fuse" -> FUSE;
                case "auto" -> AUTO;
                default -> throw new IllegalArgumentException("--frontend must be device, fuse or auto: " + s);
            };
        }
    }

    /**
     * A mount: the remote backend, an optional managed cache over it, a loopback NBD server and the
     * frontend ({@link NbdDevice} or {@link NbdfuseFile}) whose path is {@code file}. Closing
     * disconnects or unmounts, flushes the managed cache to the remote and closes the rest.
     */
    public record Mounted(Path file, Frontend frontend, AutoCloseable presenter, NbdServer server, ManagedMount managed,
                          Backend remote) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            try {
                presenter.close();
            } catch (IOException | RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IOException(e);
            } finally {
                try {
                    server.close();
                } finally {
                    try {
                        if (managed != null) {
                            managed.close();
                        }
                    } finally {
                        remote.close();
                    }
                }
            }
        }
    }

    /** As {@link #mount(String, Path, boolean, MountConfig, boolean, Frontend, Path)} with {@code AUTO}. */
    public static Mounted mount(String backendSpec, Path mountDir, boolean managed, MountConfig config,
                                boolean readOnly) throws Exception {
        return mount(backendSpec, mountDir, managed, config, readOnly, Frontend.AUTO, null);
    }

    /**
     * The frontend {@code requested} resolves to: DEVICE/FUSE as asked; AUTO is DEVICE when
     * {@code /dev/nbd0} exists and a device is usable, else FUSE. (If the kernel then refuses to
     * connect the device, an AUTO mount with a directory falls back to FUSE, saying why on stderr.)
     */
    public static Frontend resolve(Frontend requested) {
        if (requested != Frontend.AUTO) {
            return requested;
        }
        if (!Files.exists(NbdDevice.FIRST)) {
            return Frontend.FUSE;
        }
        try {
            NbdDevice.firstUsable();
            return Frontend.DEVICE;
        } catch (IOException e) {
            return Frontend.FUSE;
        }
    }

    /**
     * Mounts a backend, direct (every access goes to the backend) or managed (local cache, background
     * pull and push, flush = barrier to the remote), as {@code /dev/nbdX} ({@code device}, or the
     * first usable one when null) or as {@code <mountDir>/nbd} via nbdfuse. Returns once the path is
     * usable; map it only from another process (DESIGN §8). A device that cannot be used fails before
     * the backend is opened, with a one-line reason.
     */
    public static Mounted mount(String backendSpec, Path mountDir, boolean managed, MountConfig config,
                                boolean readOnly, Frontend frontend, Path device) throws Exception {
        Frontend kind = resolve(frontend);
        Path dev = null;
        if (kind == Frontend.DEVICE) {
            dev = device != null ? device : NbdDevice.firstUsable();
            String why = NbdDevice.unavailableReason(dev);
            if (why != null) {
                throw new IOException(why);
            }
        } else if (mountDir == null) {
            throw new IllegalArgumentException("the fuse frontend needs --dir DIR"
                    + (frontend == Frontend.AUTO ? " (" + NbdDevice.unavailableReason(NbdDevice.FIRST) + ")" : ""));
        }
        Backend remote = Backends.open(backendSpec, readOnly);
        ManagedMount cache = null;
        NbdServer server = null;
        try {
            cache = managed ? new ManagedMount(remote, config) : null;
            Backend exported = cache != null ? cache : remote;
            server = NbdServer.start(0, new Export("mount", backendSpec, exported, readOnly));
            if (kind == Frontend.DEVICE) {
                try {
                    NbdDevice d = NbdDevice.connect(dev, "127.0.0.1", server.port(), "mount");
                    return new Mounted(d.path(), kind, d, server, cache, remote);
                } catch (IOException e) {
                    if (frontend != Frontend.AUTO || mountDir == null) {
                        throw e;
                    }
                    // auto: the device looked usable but the kernel refused (e.g. no CAP_SYS_ADMIN)
                    System.err.println("strata: " + e.getMessage() + "; mounting with nbdfuse instead");
                    kind = Frontend.FUSE;
                }
            }
            NbdfuseFile fuse = NbdfuseFile.mount(mountDir, "nbd://127.0.0.1:" + server.port() + "/mount",
                    exported.size(), readOnly, 4);
            return new Mounted(fuse.file(), kind, fuse, server, cache, remote);
        } catch (Exception e) {
            if (server != null) {
                server.close();
            }
            if (cache != null) {
                cache.close();
            }
            remote.close();
            throw e;
        }
    }

    /** Export names (and descriptions) of a server, by NBD_OPT_LIST. */
    public static List<String> list(String host, int port) throws IOException {
        return NbdClient.list(host, port);
    }

    /** A server-side TLS context from a PKCS#12 key store. */
    public static SSLContext sslContext(Path keystore, String password) throws IOException {
        try (InputStream in = Files.newInputStream(keystore)) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(in, password.toCharArray());
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, password.toCharArray());
            SSLContext ctx = SSLContext.getInstance("TLSv1.3");
            ctx.init(kmf.getKeyManagers(), null, null);
            return ctx;
        } catch (java.security.GeneralSecurityException e) {
            throw new IOException("cannot load TLS key store " + keystore, e);
        }
    }

    /**
     * {@code serve --backend SPEC [--bind ADDR] [--port N] [--name NAME] [--read-only]
     * [--tls-keystore P12 --tls-password PW [--tls-required]] [--no-warm-up]}, {@code list HOST [PORT]},
     * {@code mount --backend SPEC [--dir DIR] [--frontend device|fuse|auto] [--device /dev/nbdN] [--managed]
     * [--chunk SIZE] [--pull-workers N] [--push-workers N] [--read-only]}.
     */
    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.err.println("usage: serve|list|mount ...");
            System.exit(2);
        }
        List<String> rest = new ArrayList<>(Arrays.asList(args).subList(1, args.length));
        switch (args[0]) {
            case "serve" -> {
                if (!rest.contains("--no-warm-up")) {
                    JitWarmUp.runBeforeServing(1500);
                }
                ServeOptions o = new ServeOptions(opt(rest, "--backend", "memory:1G"), opt(rest, "--bind", "127.0.0.1"),
                        Integer.parseInt(opt(rest, "--port", "10809")), opt(rest, "--name", ""),
                        rest.contains("--read-only"),
                        rest.contains("--tls-keystore") ? Path.of(opt(rest, "--tls-keystore", null)) : null,
                        opt(rest, "--tls-password", ""), rest.contains("--tls-required"));
                try (Served s = serve(o)) {
                    System.out.println("nbd://" + o.bind() + ":" + s.server().port() + "/" + o.exportName());
                    System.out.flush();
                    CountDownLatch forever = new CountDownLatch(1);
                    Runtime.getRuntime().addShutdownHook(new Thread(forever::countDown));
                    forever.await();
                }
            }
            case "list" -> list(rest.get(0), rest.size() > 1 ? Integer.parseInt(rest.get(1)) : 10809)
                    .forEach(System.out::println);
            case "mount" -> MountCommand.run(rest);
            default -> {
                System.err.println("unknown command " + args[0]);
                System.exit(2);
            }
        }
    }

    static String opt(List<String> args, String name, String dflt) {
        int i = args.indexOf(name);
        return i >= 0 && i + 1 < args.size() ? args.get(i + 1) : dflt;
    }
}
