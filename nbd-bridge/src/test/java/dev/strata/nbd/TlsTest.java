package dev.strata.nbd;

import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.nbd.backend.MemoryBackend;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * NBD_OPT_STARTTLS with a self-signed certificate made in the test by the JDK's keytool; libnbd
 * (gnutls) clients verify it as their CA. With TLS required, a plain client is refused.
 */
@Timeout(90)
class TlsTest {
    private static final Duration T = Duration.ofSeconds(60);
    private Path dir;
    private MemoryBackend disk;
    private NbdServer server;

    @BeforeEach
    void start() throws Exception {
        dir = Files.createTempDirectory("nbd-tls");
        String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
        Path ks = dir.resolve("server.p12");
        Tools.run(T, keytool, "-genkeypair", "-alias", "nbd", "-keyalg", "EC", "-groupname", "secp256r1",
                "-dname", "CN=localhost", "-ext", "SAN=dns:localhost,ip:127.0.0.1", "-validity", "2",
                "-storetype", "PKCS12", "-keystore", ks.toString(), "-storepass", "changeit").ok();
        Tools.run(T, keytool, "-exportcert", "-rfc", "-alias", "nbd", "-keystore", ks.toString(),
                "-storepass", "changeit", "-file", dir.resolve("ca-cert.pem").toString()).ok();
        disk = new MemoryBackend(8 << 20);
        server = NbdServer.start(InetAddress.getLoopbackAddress(), 0, List.of(new Export("d", "", disk, false)),
                NbdCommands.sslContext(ks, "changeit"), true);
    }

    @AfterEach
    void stop() throws Exception {
        server.close();
        disk.close();
        Tools.deleteTree(dir);
    }

    @Test
    void nbdinfoNegotiatesTlsWithTheTestCa() throws Exception {
        Tools.require("nbdinfo");
        String uri = "nbds://localhost:" + server.port() + "/d?tls-certificates=" + dir;
        String info = Tools.run(T, "nbdinfo", uri).ok().output();
        assertTrue(info.contains("with TLS"), info);
    }

    @Test
    void nbdshWritesAndReadsOverTls() throws Exception {
        Tools.require("nbdsh");
        String script = String.join("\n",
                "h.set_tls(nbd.TLS_REQUIRE)",
                "h.set_tls_certificates('" + dir + "')",
                "h.connect_uri('nbds://localhost:" + server.port() + "/d')",
                "h.pwrite(b'secret' * 1000, 4096, nbd.CMD_FLAG_FUA)",
                "assert h.pread(6000, 4096) == b'secret' * 1000",
                "h.shutdown()",
                "print('tls-ok')");
        String out = Tools.run(T, "nbdsh", "-c", script).output();
        assertTrue(out.contains("tls-ok"), out);
        byte[] got = new byte[6];
        disk.readAt(4096, java.lang.foreign.MemorySegment.ofArray(got));
        assertTrue(new String(got).equals("secret"));
    }

    @Test
    void plainClientIsRefusedWhenTlsIsRequired() throws Exception {
        Tools.require("nbdinfo");
        var r = Tools.run(T, "nbdinfo", "nbd://localhost:" + server.port() + "/d");
        assertNotEquals(0, r.exit(), r.output());
    }
}
