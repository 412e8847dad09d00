package dev.strata.nbd;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * File frontend where the kernel has no nbd module: an {@code nbdfuse} process exposes an NBD export
 * as the regular file {@code <mountDir>/nbd}. Memory-mapping that file ("slice" frontend) must happen
 * in a process other than the one serving the export (DESIGN §8).
 *
 * <p>{@link #close} unmounts with {@code fusermount3 -u} and ends the nbdfuse process by PID.
 */
public final class NbdfuseFile implements AutoCloseable {
    private final Process process;
    private final Path mountDir;
    private final Path file;
    private boolean closed;

    private NbdfuseFile(Process process, Path mountDir) {
        this.process = process;
        this.mountDir = mountDir;
        this.file = mountDir.resolve("nbd");
    }

    /**
     * Mounts {@code uri} (e.g. {@code nbd://127.0.0.1:10809/disk}) on {@code mountDir} and waits
     * until the file shows {@code expectedSize} bytes.
     */
    public static NbdfuseFile mount(Path mountDir, String uri, long expectedSize, boolean readOnly, int connections)
            throws IOException, InterruptedException {
        Files.createDirectories(mountDir);
        List<String> cmd = new ArrayList<>(List.of("nbdfuse"));
        if (readOnly) {
            cmd.add("-r");
        }
        if (connections > 1) {
            cmd.addAll(List.of("-C", Integer.toString(connections)));
        }
        cmd.add(mountDir.toString());
        cmd.add(uri);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.environment().put("PATH", "/usr/bin:/bin:" + System.getenv().getOrDefault("PATH", ""));
        NbdfuseFile f = new NbdfuseFile(pb.start(), mountDir);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        try {
            while (!(Files.exists(f.file) && Files.size(f.file) == expectedSize)) {
                if (!f.process.isAlive()) {
                    throw new IOException("nbdfuse exited with " + f.process.exitValue());
                }
                if (System.nanoTime() > deadline) {
                    throw new IOException("nbdfuse did not mount " + uri + " within 30 s");
                }
                f.process.waitFor(10, TimeUnit.MILLISECONDS);
            }
            return f;
        } catch (IOException | RuntimeException | InterruptedException e) {
            f.close();
            throw e;
        }
    }

    /** The mounted file. */
    public Path file() {
        return file;
    }

    public long pid() {
        return process.pid();
    }

    /** Unmounts and ends nbdfuse by PID. Idempotent. */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            unmount();
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private void unmount() throws IOException, InterruptedException {
        Process u = new ProcessBuilder("fusermount3", "-u", mountDir.toString()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (!u.waitFor(10, TimeUnit.SECONDS)) {
            u.destroyForcibly();
        }
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroy();
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
            new ProcessBuilder("fusermount3", "-u", "-z", mountDir.toString()).start().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
