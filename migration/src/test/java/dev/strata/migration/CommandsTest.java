package dev.strata.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The CLI entry points, and the suspend hook's flush landing in the final set. */
@Timeout(120)
class CommandsTest {

    @Test
    void seedAndLeechMigrateWithAProgressLineAndAReport() throws Exception {
        try (MigrateCommands.Seeded s = MigrateCommands.seed(new MigrateCommands.SeedOptions("memory:8M",
                "127.0.0.1", 0, 64 * 1024, 1, -1, null, null, false))) {
            Regions.fillRandom(s.seeder().backend(), 3);
            ByteArrayOutputStream progress = new ByteArrayOutputStream();
            try (MigrateCommands.Leeched l = MigrateCommands.leech(new MigrateCommands.LeechOptions(
                    "127.0.0.1:" + s.seeder().port(), "memory", Duration.ofMillis(50), 30, null, -1, null, null),
                    new PrintStream(progress, true, StandardCharsets.UTF_8))) {
                String out = progress.toString(StandardCharsets.UTF_8);
                assertTrue(out.contains("%") && out.contains("round"), out);
                assertEquals(2, l.report().epoch());
                assertTrue(l.report().bytesMoved() >= 8 << 20, l.report().toString());
                assertTrue(l.leecher().awaitComplete(Duration.ofSeconds(60)));
                assertEquals(Regions.crc(s.backend()), Regions.crc(l.leecher().backend()));
            }
        }
    }

    @Test
    void bytesTheSuspendHookFlushesAreInTheFinalSet() throws Exception {
        MemorySegment marker = MemorySegment.ofArray(new byte[] {7, 7, 7, 7});
        try (var region = new dev.strata.nbd.backend.MemoryBackend(4L << 20);
             Seeder s = Seeder.start(region, SeederConfig.defaults().withHook(flushTarget -> {
                 flushTarget.writeAt(12345, marker); // an msync of application state
             }))) {
            try (Leecher l = Leecher.open(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(),
                    s.port()), LeecherConfig.defaults())) {
                l.migrate();
                assertTrue(l.awaitComplete(Duration.ofSeconds(60)));
                MemorySegment back = MemorySegment.ofArray(new byte[4]);
                l.backend().readAt(12345, back);
                assertEquals(-1, back.mismatch(marker));
            }
        }
    }
}
