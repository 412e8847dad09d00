package dev.strata.nbd;

import static dev.strata.nbd.internal.Proto.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.strata.nbd.backend.MemoryBackend;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Timeout;

/**
 * Hundreds of requests of mixed kinds and sizes sent in one burst, without waiting for replies:
 * the in-memory backend serves them on the connection's reader thread and answers in coalesced
 * gathering writes (small writes straight from the read buffer, read data straight from the
 * backend). Every cookie must be answered exactly once, with the right status, and every read with
 * the bytes of its range; with structured replies on, a success without data is a simple reply.
 */
@Timeout(60)
class CoalescedRepliesTest {
    private static final int SLOT = 256 * 1024;
    private static final int SLOTS = 64;

    /** What the reply to one cookie must be: an error, or for reads the expected bytes. */
    record Expect(int type, byte[] data, boolean error) {}

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void burstOfMixedRequestsIsAnsweredOncePerCookieWithTheRightData(boolean structured) throws Exception {
        Random rnd = new Random(42);
        byte[] image = new byte[SLOT * SLOTS];
        try (MemoryBackend backend = new MemoryBackend(image.length);
             NbdServer server = NbdServer.start(0, new Export("d", "", backend, false));
             BadInputTest.Raw r = new BadInputTest.Raw(server.port())) {
            r.out.writeInt(C_FLAG_FIXED_NEWSTYLE | C_FLAG_NO_ZEROES);
            if (structured) {
                r.option(OPT_STRUCTURED_REPLY, 0, new byte[0]);
                assertEquals(REP_ACK, r.reply());
            }
            r.go();
            for (int round = 0; round < 3; round++) {
                // a burst: writes of mixed sizes (below and above the inline limit) into the even
                // slots, reads of the odd slots (written in the burst before), flushes, trims, an
                // out-of-range read, all without waiting; then the odd/even roles swap
                Map<Long, Expect> expected = new HashMap<>();
                ByteArrayOutputStream burst = new ByteArrayOutputStream();
                DataOutputStream out = new DataOutputStream(burst);
                byte[] next = image.clone();
                long cookie = round * 100_000L;
                for (int i = 0; i < 400; i++) {
                    int slot = 2 * rnd.nextInt(SLOTS / 2) + (round & 1);
                    int other = slot ^ 1;
                    int kind = rnd.nextInt(10);
                    cookie++;
                    if (kind < 4) { // write into this burst's slots
                        int len = sizeOf(rnd);
                        long off = (long) slot * SLOT + rnd.nextInt(SLOT - len + 1);
                        byte[] data = new byte[len];
                        rnd.nextBytes(data);
                        header(out, kind == 0 ? CMD_FLAG_FUA : 0, CMD_WRITE, cookie, off, len);
                        out.write(data);
                        System.arraycopy(data, 0, next, (int) off, len);
                        expected.put(cookie, new Expect(CMD_WRITE, null, false));
                    } else if (kind < 8) { // read of the other slots, stable during this burst
                        int len = sizeOf(rnd);
                        long off = (long) other * SLOT + rnd.nextInt(SLOT - len + 1);
                        header(out, 0, CMD_READ, cookie, off, len);
                        byte[] want = new byte[len];
                        System.arraycopy(image, (int) off, want, 0, len);
                        expected.put(cookie, new Expect(CMD_READ, want, false));
                    } else if (kind == 8) {
                        header(out, 0, CMD_FLUSH, cookie, 0, 0);
                        expected.put(cookie, new Expect(CMD_FLUSH, null, false));
                    } else {
                        header(out, 0, CMD_READ, cookie, image.length - 512, 4096); // past the end
                        expected.put(cookie, new Expect(CMD_READ, null, true));
                    }
                }
                Map<Long, String> problems = new ConcurrentHashMap<>();
                AtomicReference<Throwable> failed = new AtomicReference<>();
                Thread reader = Thread.ofPlatform().start(() -> {
                    try {
                        readReplies(r, structured, expected, problems);
                    } catch (Throwable t) {
                        failed.set(t);
                    }
                });
                r.out.write(burst.toByteArray()); // one burst, replies read concurrently
                r.out.flush();
                reader.join(30_000);
                assertNull(failed.get(), () -> "reply stream broken: " + failed.get());
                assertTrue(problems.isEmpty(), problems::toString);
                image = next;
            }
            // everything written is there
            for (int slot = 0; slot < SLOTS; slot++) {
                r.request(0, CMD_READ, 7, (long) slot * SLOT, SLOT);
                byte[] got = readOne(r, structured, 7, SLOT);
                byte[] want = new byte[SLOT];
                System.arraycopy(image, slot * SLOT, want, 0, SLOT);
                assertArrayEquals(want, got, "slot " + slot);
            }
        }
    }

    /** Mostly small (the inline path), some around and above the inline limit, one byte now and then. */
    private static int sizeOf(Random rnd) {
        return switch (rnd.nextInt(8)) {
            case 0 -> 1 + rnd.nextInt(16);
            case 1, 2, 3, 4 -> 512 * (1 + rnd.nextInt(16));
            case 5 -> 60 * 1024 + rnd.nextInt(8 * 1024);
            default -> 4096 * (1 + rnd.nextInt(SLOT / 4096));
        };
    }

    private static void header(DataOutputStream out, int flags, int type, long cookie, long off, int len)
            throws IOException {
        out.writeInt(REQUEST_MAGIC);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(cookie);
        out.writeLong(off);
        out.writeInt(len);
    }

    private static void readReplies(BadInputTest.Raw r, boolean structured, Map<Long, Expect> expected,
            Map<Long, String> problems) throws IOException {
        Map<Long, Expect> open = new HashMap<>(expected);
        while (!open.isEmpty()) {
            int magic = r.in.readInt();
            if (magic == SIMPLE_REPLY_MAGIC) {
                int err = r.in.readInt();
                long cookie = r.in.readLong();
                Expect e = open.remove(cookie);
                if (e == null) {
                    problems.put(cookie, "unexpected or repeated cookie");
                    return;
                }
                if (e.type == CMD_READ && structured) {
                    problems.put(cookie, "simple reply to a READ with structured replies on");
                }
                if ((err != 0) != e.error) {
                    problems.put(cookie, "error " + err);
                }
                if (e.type == CMD_READ && !structured && err == 0) {
                    byte[] got = r.in.readNBytes(e.data.length);
                    if (!java.util.Arrays.equals(got, e.data)) {
                        problems.put(cookie, "wrong read data");
                    }
                }
                continue;
            }
            assertEquals(STRUCTURED_REPLY_MAGIC, magic, "reply magic");
            int flags = r.in.readUnsignedShort();
            int type = r.in.readUnsignedShort();
            long cookie = r.in.readLong();
            int length = r.in.readInt();
            Expect e = open.get(cookie);
            if (e == null) {
                problems.put(cookie, "unexpected or repeated cookie");
                return;
            }
            if ((flags & REPLY_FLAG_DONE) == 0) {
                problems.put(cookie, "a one-chunk reply without DONE");
            }
            open.remove(cookie);
            if (type == REPLY_TYPE_OFFSET_DATA) {
                r.in.readLong();
                byte[] got = r.in.readNBytes(length - 8);
                if (e.data == null || !java.util.Arrays.equals(got, e.data)) {
                    problems.put(cookie, "wrong read data");
                }
            } else {
                r.in.skipNBytes(length);
                if (type == REPLY_TYPE_ERROR != e.error) {
                    problems.put(cookie, "reply type " + type);
                }
            }
        }
    }

    private static byte[] readOne(BadInputTest.Raw r, boolean structured, long cookie, int len) throws IOException {
        if (!structured) {
            assertEquals(0, r.simpleReply(cookie));
            return r.in.readNBytes(len);
        }
        assertEquals(STRUCTURED_REPLY_MAGIC, r.in.readInt());
        r.in.readUnsignedShort();
        assertEquals(REPLY_TYPE_OFFSET_DATA, r.in.readUnsignedShort());
        assertEquals(cookie, r.in.readLong());
        assertEquals(len + 8, r.in.readInt());
        r.in.readLong();
        return r.in.readNBytes(len);
    }
}
