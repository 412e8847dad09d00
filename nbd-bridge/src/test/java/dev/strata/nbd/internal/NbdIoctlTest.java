package dev.strata.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The NBD ioctl request numbers are those of {@code <linux/nbd.h>}. */
@Timeout(60)
class NbdIoctlTest {
    private static final Map<String, Long> OURS = new LinkedHashMap<>();

    static {
        OURS.put("NBD_SET_SOCK", NbdIoctl.NBD_SET_SOCK);
        OURS.put("NBD_SET_BLKSIZE", NbdIoctl.NBD_SET_BLKSIZE);
        OURS.put("NBD_SET_SIZE", NbdIoctl.NBD_SET_SIZE);
        OURS.put("NBD_DO_IT", NbdIoctl.NBD_DO_IT);
        OURS.put("NBD_CLEAR_SOCK", NbdIoctl.NBD_CLEAR_SOCK);
        OURS.put("NBD_CLEAR_QUE", NbdIoctl.NBD_CLEAR_QUE);
        OURS.put("NBD_SET_SIZE_BLOCKS", NbdIoctl.NBD_SET_SIZE_BLOCKS);
        OURS.put("NBD_DISCONNECT", NbdIoctl.NBD_DISCONNECT);
        OURS.put("NBD_SET_TIMEOUT", NbdIoctl.NBD_SET_TIMEOUT);
        OURS.put("NBD_SET_FLAGS", NbdIoctl.NBD_SET_FLAGS);
    }

    @Test
    void requestNumbersAreIoOf0xabAndTheCommandNumber() {
        // _IO(0xab, n) in <linux/nbd.h>: NBD_SET_SOCK n=0 ... NBD_SET_FLAGS n=10 (6 is NBD_PRINT_DEBUG)
        assertEquals(0xab00L, NbdIoctl.NBD_SET_SOCK);
        assertEquals(0xab01L, NbdIoctl.NBD_SET_BLKSIZE);
        assertEquals(0xab02L, NbdIoctl.NBD_SET_SIZE);
        assertEquals(0xab03L, NbdIoctl.NBD_DO_IT);
        assertEquals(0xab04L, NbdIoctl.NBD_CLEAR_SOCK);
        assertEquals(0xab05L, NbdIoctl.NBD_CLEAR_QUE);
        assertEquals(0xab07L, NbdIoctl.NBD_SET_SIZE_BLOCKS);
        assertEquals(0xab08L, NbdIoctl.NBD_DISCONNECT);
        assertEquals(0xab09L, NbdIoctl.NBD_SET_TIMEOUT);
        assertEquals(0xab0aL, NbdIoctl.NBD_SET_FLAGS);
    }

    /** Compiles a C program against the system's {@code <linux/nbd.h>} and compares what it prints. */
    @Test
    void requestNumbersMatchTheSystemHeader(@TempDir Path dir) throws Exception {
        assumeTrue(Files.exists(Path.of("/usr/include/linux/nbd.h")),
                "skipped: /usr/include/linux/nbd.h not installed (linux-libc-dev)");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/cc")), "skipped: no C compiler at /usr/bin/cc");
        StringBuilder c = new StringBuilder("#include <stdio.h>\n#include <sys/ioctl.h>\n#include <linux/nbd.h>\nint main(void) {\n");
        for (String name : OURS.keySet()) {
            c.append("  printf(\"").append(name).append(" %lu\\n\", (unsigned long) ").append(name).append(");\n");
        }
        c.append("  return 0;\n}\n");
        Files.writeString(dir.resolve("nbd.c"), c);
        run(dir, "/usr/bin/cc", "-o", "nbd", "nbd.c");
        Map<String, Long> theirs = new HashMap<>();
        for (String line : run(dir, dir.resolve("nbd").toString()).split("\n")) {
            String[] kv = line.trim().split(" ");
            theirs.put(kv[0], Long.parseLong(kv[1]));
        }
        assertEquals(OURS.keySet(), theirs.keySet());
        for (var e : OURS.entrySet()) {
            assertEquals(theirs.get(e.getKey()), e.getValue(), e.getKey() + " in <linux/nbd.h>");
        }
    }

    private static String run(Path dir, String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        try {
            String out = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new AssertionError(String.join(" ", cmd) + " failed: " + out);
            }
            return out;
        } finally {
            p.destroyForcibly();
        }
    }
}
