package dev.strata.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.migration.internal.Wire;
import dev.strata.nbd.backend.MemoryBackend;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Hostile frames are refused with an ERROR before any allocation; TLS (mutual) works end to end. */
@Timeout(120)
class ProtocolTest {

    private static int readErrorCode(Socket s) throws IOException {
        DataInputStream in = new DataInputStream(s.getInputStream());
        int len = in.readInt();
        assertTrue(len > 2 && len <= Wire.MAX_CONTROL + 1, "error frame length " + len);
        assertEquals(Wire.ERROR, in.readUnsignedByte());
        int code = in.readUnsignedShort();
        in.readFully(new byte[len - 3]);
        assertEquals(-1, in.read(), "seeder should close after the error");
        return code;
    }

    @Test
    void aHugeFrameLengthIsRefusedAndTheSeederKeepsServing() throws Exception {
        try (MemoryBackend region = new MemoryBackend(1L << 20);
             Seeder s = Seeder.start(region, SeederConfig.defaults())) {
            try (Socket raw = new Socket(InetAddress.getLoopbackAddress(), s.port())) {
                raw.setSoTimeout(30_000);
                DataOutputStream out = new DataOutputStream(raw.getOutputStream());
                out.writeInt(0x7fff_ffff); // 2 GiB "HELLO"
                out.writeByte(Wire.HELLO);
                out.flush();
                assertEquals(Wire.E_BAD_FRAME, readErrorCode(raw));
            }
            try (Socket raw = new Socket(InetAddress.getLoopbackAddress(), s.port())) {
                raw.setSoTimeout(30_000);
                DataOutputStream out = new DataOutputStream(raw.getOutputStream());
                out.writeInt(1 + Wire.HELLO_LEN);
                out.writeByte(Wire.HELLO);
                out.writeLong(0x1234); // bad magic
                out.write(new byte[Wire.HELLO_LEN - 8]);
                out.flush();
                assertEquals(Wire.E_BAD_FRAME, readErrorCode(raw));
            }
            try (Leecher l = Leecher.open(new InetSocketAddress(InetAddress.getLoopbackAddress(), s.port()),
                    LeecherConfig.defaults())) {
                l.migrate();
                assertTrue(l.awaitComplete(Duration.ofSeconds(60)));
                assertEquals(Regions.crc(region), Regions.crc(l.backend()));
            }
        }
    }

    @Test
    void aGetOutsideTheRegionIsRefused() throws Exception {
        try (MemoryBackend region = new MemoryBackend(1L << 20);
             Seeder s = Seeder.start(region, SeederConfig.defaults())) {
            try (Socket raw = new Socket(InetAddress.getLoopbackAddress(), s.port())) {
                raw.setSoTimeout(30_000);
                DataOutputStream out = new DataOutputStream(raw.getOutputStream());
                out.writeInt(1 + Wire.HELLO_LEN);
                out.writeByte(Wire.HELLO);
                out.writeLong(Wire.MAGIC);
                out.writeShort(1);
                out.writeShort(1);
                out.writeLong(0);
                out.writeLong(0);
                out.writeInt(Wire.MAX_CHUNK);
                out.writeInt(0);
                out.writeInt(1 + Wire.GET_LEN);
                out.writeByte(Wire.GET);
                out.writeLong(10);
                out.writeInt(1 << 20); // far past the 16 chunks of a 1 MiB region
                out.writeByte(1);
                out.flush();
                DataInputStream in = new DataInputStream(raw.getInputStream());
                assertEquals(1 + Wire.WELCOME_LEN, in.readInt());
                assertEquals(Wire.WELCOME, in.readUnsignedByte());
                in.readFully(new byte[Wire.WELCOME_LEN]);
                assertEquals(Wire.E_BAD_FRAME, readErrorCode(raw));
            }
        }
    }

    @Test
    void migratesOverMutualTls() throws Exception {
        Path dir = Files.createTempDirectory("migrate-tls");
        try {
            Path ks = dir.resolve("node.p12");
            String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
            Process p = new ProcessBuilder(keytool, "-genkeypair", "-alias", "node", "-keyalg", "EC",
                    "-groupname", "secp256r1", "-dname", "CN=localhost", "-ext", "SAN=dns:localhost,ip:127.0.0.1",
                    "-validity", "2", "-storetype", "PKCS12", "-keystore", ks.toString(), "-storepass", "changeit")
                    .redirectErrorStream(true).redirectOutput(dir.resolve("keytool.log").toFile()).start();
            try {
                assertTrue(p.waitFor(60, TimeUnit.SECONDS), "keytool hung");
                assertEquals(0, p.exitValue(), Files.readString(dir.resolve("keytool.log")));
            } finally {
                p.destroyForcibly();
            }
            SSLContext tls = MigrateCommands.tlsContext(ks, "changeit");
            try (MemoryBackend region = new MemoryBackend(4L << 20)) {
                Regions.fillRandom(region, 9);
                try (Seeder s = Seeder.start(region, SeederConfig.defaults().withTls(tls, true))) {
                    InetSocketAddress addr = new InetSocketAddress(InetAddress.getLoopbackAddress(), s.port());
                    // a plain-TCP leecher cannot talk to a TLS seeder
                    assertThrows(IOException.class, () -> Leecher.open(addr,
                            LeecherConfig.defaults().withReconnectTimeout(Duration.ofSeconds(1))).close());
                    try (Leecher l = Leecher.open(addr, LeecherConfig.defaults().withTls(tls))) {
                        l.migrate();
                        assertTrue(l.awaitComplete(Duration.ofSeconds(60)));
                        assertEquals(Regions.crc(region), Regions.crc(l.backend()));
                    }
                }
            }
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }
}
