package dev.strata.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.strata.testkit.RedisTestServer;
import dev.strata.testkit.S3TestServer;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Backend specs as the CLI takes them, served over NBD end to end, then reopened from the spec. */
@Timeout(90)
class BackendSpecsTest {
    private static void roundTrip(String spec) throws Exception {
        byte[] data = new byte[300_000];
        new Random(spec.hashCode()).nextBytes(data);
        try (NbdCommands.Served s = NbdCommands.serve(new NbdCommands.ServeOptions(spec, "127.0.0.1", 0, "v", false,
                null, null, false));
             NbdClient c = NbdClient.connect("127.0.0.1", s.server().port(), "v")) {
            assertEquals(8 << 20, c.size());
            c.write(1_000_000, data, false);
            c.flush();
            assertArrayEquals(data, c.read(1_000_000, data.length));
        }
        try (Backend reopened = Backends.open(spec, true)) {
            byte[] back = new byte[data.length];
            reopened.readAt(1_000_000, MemorySegment.ofArray(back));
            assertArrayEquals(data, back);
        }
    }

    @Test
    void redisSpecServesAndPersistsInRedis() throws Exception {
        Assumptions.assumeTrue(RedisTestServer.available(), "redis-server not installed");
        try (RedisTestServer redis = RedisTestServer.start()) {
            roundTrip("redis://127.0.0.1:" + redis.port() + "/vol?size=8M&chunk=64K");
        }
    }

    @Test
    void nbdSpecReExportsAnotherNbdServer() throws Exception {
        try (dev.strata.nbd.backend.MemoryBackend mem = new dev.strata.nbd.backend.MemoryBackend(8 << 20);
             NbdServer upstream = NbdServer.start(0, new Export("up", "", mem, false))) {
            roundTrip("nbd://127.0.0.1:" + upstream.port() + "/up?connections=2");
        }
    }

    @Test
    void s3SpecServesAndPersistsInS3() throws Exception {
        try (S3TestServer s3 = S3TestServer.start("nbd")) {
            roundTrip("s3://nbd/vol?endpoint=" + s3.endpoint() + "&access=" + S3TestServer.ACCESS_KEY
                    + "&secret=" + S3TestServer.SECRET_KEY + "&size=8M&chunk=256K");
        }
    }
}
