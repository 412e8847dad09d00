package dev.strata.nbd;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** Test helpers: external tools (skip when missing), processes run with a deadline and ended by PID. */
final class Tools {
    private Tools() {}

    /** Debian's tools first: another python3 may shadow Debian's (nbdsh needs Debian's). */
    static final String PATH = "/usr/bin:/usr/sbin:/bin:" + System.getenv().getOrDefault("PATH", "");

    static void require(String... binaries) {
        for (String b : binaries) {
            boolean found = false;
            for (String dir : PATH.split(":")) {
                if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, b))) {
                    found = true;
                    break;
                }
            }
            assumeTrue(found, b + " not installed (apt-get install libnbd-bin nbdkit qemu-utils fuse3 fio redis-server)");
        }
    }

    /** Result of a finished process. */
    record Result(int exit, String output) {
        Result ok() {
            if (exit != 0) {
                throw new AssertionError("exit " + exit + ": " + output);
            }
            return this;
        }
    }

    /** Runs a command to completion within {@code timeout}; output is stdout+stderr. Ends it by PID on every path. */
    static Result run(Duration timeout, String... command) throws IOException, InterruptedException {
        return run(timeout, null, command);
    }

    static Result run(Duration timeout, Map<String, String> env, String... command) throws IOException, InterruptedException {
        Path log = Files.createTempFile("tool", ".log");
        Process p = start(log, env, command);
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError("timed out after " + timeout + ": " + String.join(" ", command)
                        + "\n" + Files.readString(log));
            }
            return new Result(p.exitValue(), Files.readString(log));
        } finally {
            end(p);
            Files.deleteIfExists(log);
        }
    }

    static Process start(Path log, Map<String, String> env, String... command) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(List.of(command)).redirectErrorStream(true);
        pb.redirectOutput(log.toFile());
        pb.environment().put("PATH", PATH);
        if (env != null) {
            pb.environment().putAll(env);
        }
        return pb.start();
    }

    /** Ends a process (and its descendants) by PID: TERM, then KILL after 5 s. */
    static void end(Process p) throws InterruptedException {
        if (p == null) {
            return;
        }
        List<ProcessHandle> kids = new ArrayList<>(p.descendants().toList());
        p.destroy();
        if (!p.waitFor(5, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
        }
        for (ProcessHandle k : kids) {
            k.destroyForcibly();
        }
    }

    /** Waits for a condition with a deadline (no sleep-as-synchronization: polls the condition). */
    static void await(Duration timeout, String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(10);
        }
    }

    static void deleteTree(Path dir) throws IOException {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    static String sha256(Path file) throws IOException {
        try (var in = Files.newInputStream(file)) {
            var md = java.security.MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
            return java.util.HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
