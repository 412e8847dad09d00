package dev.strata.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class StrataCliTest {
    @TempDir
    Path dir;

    private record Run(int exit, String out, String err) {}

    private static Run run(String... args) {
        PrintStream oldOut = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            CommandLine cli = StrataCli.commandLine();
            cli.setOut(new java.io.PrintWriter(out, true, StandardCharsets.UTF_8));
            cli.setErr(new java.io.PrintWriter(err, true, StandardCharsets.UTF_8));
            int exit = cli.execute(args);
            return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
        }
    }

    @Test
    void helpListsEveryCommand() {
        Run r = run("--help");
        assertEquals(0, r.exit());
        for (String c : new String[] {"demo", "nbd", "mount", "memory-node", "migrate"}) {
            assertTrue(r.out().contains(c), "help lists " + c + ":\n" + r.out());
        }
    }

    @Test
    void demoLoadsVerifiesAndReportsFigures() throws Exception {
        Path store = dir.resolve("store");
        Run r = run("demo", "--dir", store.toString(), "--pages", "3000", "--pool", "4MiB", "--keys", "20000");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("20,000 keys loaded"), r.out());
        assertTrue(r.out().contains("all intact"), r.out());
        assertTrue(r.out().contains("evictions"), r.out());
        assertTrue(Files.exists(store.resolve("pages/checkpoint")), "store kept in --dir");
        assertTrue(Files.exists(store.resolve("index/checkpoint")), "index store kept in --dir");
    }

    @Test
    void badOptionsGiveAClearErrorAndNonZeroExit() {
        Run r = run("demo", "--pool", "lots");
        assertNotEquals(0, r.exit());
        assertTrue(r.err().contains("not a byte size"), r.err());
        assertTrue(!r.err().contains("\tat "), "no stack trace: " + r.err());
        Run pages = run("demo", "--pages", "0");
        assertNotEquals(0, pages.exit());
        assertTrue(pages.err().contains("--pages"), pages.err());
    }

    @Test
    void mountOnAMissingNbdDeviceFailsInOneLine() {
        Path missing = dir.resolve("nbd9");
        Run r = run("mount", "--backend", "memory:16M", "--frontend", "device", "--device", missing.toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().startsWith("strata: no " + missing + ": "), r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
        assertTrue(!r.err().contains("\tat "), "no stack trace: " + r.err());
        if (!Files.exists(Path.of("/dev/nbd0")) && !Files.exists(Path.of("/sys/module/nbd"))) {
            Run dflt = run("mount", "--backend", "memory:16M", "--frontend", "device");
            assertEquals(1, dflt.exit());
            assertEquals("strata: no /dev/nbd0: kernel nbd module not loaded (modprobe nbd)", dflt.err().strip());
        }
    }
}
