package dev.strata.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.nbd.backend.MemoryBackend;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The server against real NBD clients over TCP: nbdinfo, qemu-io, qemu-img, nbdcopy, nbdsh. */
@Timeout(120)
class NbdInteropTest {
    private static final Duration T = Duration.ofSeconds(60);
    private static final long SIZE = 64L << 20;
    private static MemoryBackend disk;
    private static MemoryBackend ro;
    private static NbdServer server;
    private static Path tmp;

    @BeforeAll
    static void start() throws Exception {
        disk = new MemoryBackend(SIZE);
        ro = new MemoryBackend(1 << 20);
        server = NbdServer.start(0, new Export("disk", "scratch disk", disk, false),
                new Export("ro", "read-only disk", ro, true));
        tmp = Files.createTempDirectory("nbd-interop");
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        disk.close();
        ro.close();
        Tools.deleteTree(tmp);
    }

    @BeforeEach
    void clear() {
        disk.zero(0, SIZE, false);
    }

    private static String uri(String export) {
        return "nbd://127.0.0.1:" + server.port() + "/" + export;
    }

    @Test
    void nbdinfoShowsSizeFlagsAndBlockSizes() throws Exception {
        Tools.require("nbdinfo");
        String out = Tools.run(T, "nbdinfo", uri("disk")).ok().output();
        assertTrue(out.contains("export-size: " + SIZE), out);
        assertTrue(out.contains("block_size_maximum: 33554432"), out);
        assertTrue(out.contains("can_multi_conn: true"), out);
        assertTrue(out.contains("can_fua: true"), out);
        assertTrue(out.contains("base:allocation"), out);
        String roOut = Tools.run(T, "nbdinfo", uri("ro")).ok().output();
        assertTrue(roOut.contains("is_read_only: true"), roOut);
    }

    @Test
    void nbdinfoListShowsEveryExportWithDescription() throws Exception {
        Tools.require("nbdinfo");
        String out = Tools.run(T, "nbdinfo", "--list", uri("")).ok().output();
        assertTrue(out.contains("export=\"disk\""), out);
        assertTrue(out.contains("export=\"ro\""), out);
        assertTrue(out.contains("description: read-only disk"), out);
        assertEquals(2, NbdCommands.list("127.0.0.1", server.port()).size());
    }

    @Test
    void nbdinfoMapReportsDataAndHoles() throws Exception {
        Tools.require("nbdinfo", "qemu-io");
        Tools.run(T, "qemu-io", "-f", "raw", "-c", "write -P 0x11 1M 1M", uri("disk")).ok();
        String out = Tools.run(T, "nbdinfo", "--map", uri("disk")).ok().output();
        assertTrue(out.matches("(?s)\\s*0\\s+1048576\\s+3\\s+hole,zero\\s+1048576\\s+1048576\\s+0\\s+data\\s+2097152\\s+\\d+\\s+3\\s+hole,zero\\s*"), out);
        Tools.run(T, "qemu-io", "-f", "raw", "-c", "discard 1M 1M", uri("disk")).ok();
        out = Tools.run(T, "nbdinfo", "--map", uri("disk")).ok().output();
        assertTrue(out.matches("(?s)\\s*0\\s+" + SIZE + "\\s+3\\s+hole,zero\\s*"), out);
    }

    @Test
    void qemuIoWritesReadsVerifiesDiscardsZeroesAndFlushes() throws Exception {
        Tools.require("qemu-io");
        Tools.run(T, "qemu-io", "-f", "raw",
                "-c", "write -P 0xab 0 4M", "-c", "write -P 0xcd 4M 64k", "-c", "write -z 1M 1M",
                "-c", "discard 2M 1M", "-c", "write -P 0x5a -f 3M 4k", "-c", "flush", uri("disk")).ok();
        String out = Tools.run(T, "qemu-io", "-f", "raw", "-r",
                "-c", "read -P 0xab 0 1M", "-c", "read -P 0 1M 2M", "-c", "read -P 0x5a 3M 4k",
                "-c", "read -P 0xab 3149824 1044480", "-c", "read -P 0xcd 4M 64k", uri("disk")).ok().output();
        assertTrue(!out.contains("Pattern verification failed"), out);
        // and the check is real: a wrong pattern is caught
        String wrong = Tools.run(T, "qemu-io", "-f", "raw", "-r", "-c", "read -P 0xab 1M 4k", uri("disk")).output();
        assertTrue(wrong.contains("Pattern verification failed"), wrong);
    }

    @Test
    void qemuImgConvertThenCompareMatches() throws Exception {
        Tools.require("qemu-img");
        Path src = tmp.resolve("src.raw");
        byte[] data = new byte[8 << 20];
        new Random(7).nextBytes(data);
        Files.write(src, data);
        Tools.run(T, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src.toString(), uri("disk")).ok();
        Tools.run(T, "qemu-img", "compare", "-f", "raw", "-F", "raw", src.toString(), uri("disk")).ok();
        disk.writeAt(100, java.lang.foreign.MemorySegment.ofArray(new byte[] {(byte) ~data[100]}));
        assertEquals(1, Tools.run(T, "qemu-img", "compare", "-q", "-f", "raw", "-F", "raw", src.toString(),
                uri("disk")).exit());
        disk.writeAt(8 << 20, java.lang.foreign.MemorySegment.ofArray(new byte[] {1}));
    }

    @Test
    void nbdcopyBothDirectionsPreservesChecksum() throws Exception {
        Tools.require("nbdcopy");
        Path src = tmp.resolve("copy-src.raw");
        byte[] data = new byte[(int) SIZE];
        new Random(11).nextBytes(data);
        Files.write(src, data);
        Tools.run(T, "nbdcopy", src.toString(), uri("disk")).ok();
        Path back = tmp.resolve("copy-back.raw");
        Tools.run(T, "nbdcopy", uri("disk"), back.toString()).ok();
        assertEquals(Tools.sha256(src), Tools.sha256(back));
        Files.delete(src);
        Files.delete(back);
    }

    @Test
    void nbdshStructuredRepliesMetaContextsFuaAndErrors() throws Exception {
        Tools.require("nbdsh");
        String script = String.join("\n",
                "import errno",
                "h.set_strict_mode(0)  # let bad requests reach the server",
                "h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)",
                "h.connect_uri('" + uri("disk") + "')",
                "assert h.get_structured_replies_negotiated()",
                "assert h.can_meta_context(nbd.CONTEXT_BASE_ALLOCATION)",
                "h.pwrite(b'\\x42' * 65536, 65536, nbd.CMD_FLAG_FUA)",
                "chunks = []",
                "def cb(user, buf, off, status, err):",
                "    chunks.append((off, status, len(buf)))",
                "    return 0",
                "buf = h.pread_structured(65536, 65536, lambda b, o, s, e: cb(None, b, o, s, e))",
                "assert buf == b'\\x42' * 65536",
                "assert chunks == [(65536, nbd.READ_DATA, 65536)], chunks",
                "ext = []",
                "def bs(meta, off, entries, err):",
                "    ext.append((meta, list(entries)))",
                "    return 0",
                "h.block_status(3 * 65536, 0, bs)",
                "assert ext[0][0] == nbd.CONTEXT_BASE_ALLOCATION, ext",
                "assert ext[0][1][:4] == [65536, 3, 65536, 0], ext",
                "try:",
                "    h.pread(4096, " + SIZE + ")",
                "    raise SystemExit('out of range read succeeded')",
                "except nbd.Error as e:",
                "    assert e.errnum == errno.EINVAL, e",
                "try:",
                "    h.pwrite(b'x' * 4096, " + (SIZE - 1) + ")",
                "    raise SystemExit('out of range write succeeded')",
                "except nbd.Error as e:",
                "    assert e.errnum == errno.ENOSPC, e",
                "assert h.pread(4, 65536) == b'BBBB'",  // connection still usable
                "h.flush()",
                "h2 = nbd.NBD()",  // multi-conn: a flushed write on one connection is seen on another
                "h2.connect_uri('" + uri("disk") + "')",
                "assert h2.can_multi_conn()",
                "h.pwrite(b'M' * 512, 8192)",
                "h.flush()",
                "assert h2.pread(512, 8192) == b'M' * 512",
                "h2.shutdown()",
                "h.zero(65536, 65536, nbd.CMD_FLAG_FAST_ZERO)",
                "assert h.pread(8, 65536) == bytes(8)",
                "h.shutdown()",
                "r = nbd.NBD()",
                "r.connect_uri('" + uri("ro") + "')",
                "assert r.is_read_only()",
                "try:",
                "    r.set_strict_mode(0)",
                "    r.pwrite(b'x', 0)",
                "    raise SystemExit('write to read-only export succeeded')",
                "except nbd.Error as e:",
                "    assert e.errnum == errno.EPERM, e",
                "r.shutdown()",
                "print('nbdsh-ok')");
        Path py = tmp.resolve("t.py");
        Files.writeString(py, script);
        String out = Tools.run(T, "nbdsh", "-c", "exec(open('" + py + "').read())").output();
        assertTrue(out.contains("nbdsh-ok"), out);
    }
}
