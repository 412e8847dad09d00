package dev.strata.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a writer in a child JVM (the test's own class path) and kills it with SIGKILL at a chosen
 * moment: the harness of the crash-recovery tests. The child prints {@code READY} once it writes,
 * {@code S i} before it starts unit of work {@code i} and {@code C i} once {@code i} was
 * acknowledged, each line with a single write(2); its stdout goes to a file, and only
 * newline-terminated lines count, since a line cut by the kill was never fully written.
 */
public final class CrashingChild {
    /** What the child reported before it died: the last acknowledged and the last started unit. */
    public record Progress(long committed, long started) {}

    private CrashingChild() {}

    /**
     * Starts {@code main} with {@code args}, waits (up to 60 s) for {@code READY}, lets it run for
     * {@code afterReady}, kills it with SIGKILL and waits for its exit. The child is killed on every path.
     *
     * @param inheritStderr pass the child's stderr through (else discard it)
     */
    public static Progress runAndKill(Class<?> main, List<String> jvmArgs, List<String> args, Path scratchDir,
            Duration afterReady, boolean inheritStderr) throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path out = Files.createTempFile(scratchDir, "crashing-child", ".out");
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED"));
        cmd.addAll(jvmArgs);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd)
                .redirectError(inheritStderr ? ProcessBuilder.Redirect.INHERIT : ProcessBuilder.Redirect.DISCARD)
                .redirectOutput(out.toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!Files.readString(out).contains("READY")) {
                if (!p.isAlive() || System.nanoTime() > deadline) {
                    throw new AssertionError("writer did not start (alive=" + p.isAlive() + ")");
                }
                Thread.sleep(5); // polling a file for a condition, with a deadline
            }
            Thread.sleep(afterReady.toMillis()); // the crash moment, not synchronization
        } finally {
            p.destroyForcibly(); // SIGKILL
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                throw new AssertionError("writer " + p.pid() + " survived SIGKILL");
            }
        }
        String text = Files.readString(out);
        Files.delete(out);
        long committed = 0;
        long started = 0;
        for (String l : text.substring(0, text.lastIndexOf('\n') + 1).split("\n")) {
            if (l.startsWith("C ")) {
                committed = Long.parseLong(l.substring(2));
            } else if (l.startsWith("S ")) {
                started = Long.parseLong(l.substring(2));
            }
        }
        return new Progress(committed, started);
    }
}
