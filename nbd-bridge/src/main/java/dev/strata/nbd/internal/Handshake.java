package dev.strata.nbd.internal;

import static dev.strata.nbd.internal.Proto.*;

import dev.strata.nbd.Export;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import javax.net.ssl.SSLContext;

/**
 * Fixed-newstyle handshake and option haggling, server side. Every option length is checked before
 * its body is read: bodies over {@link Proto#MAX_OPTION_LENGTH} are skipped (up to
 * {@link Proto#MAX_OPTION_SKIP}) and refused with NBD_REP_ERR_TOO_BIG, longer ones close the
 * connection. Malformed bodies get NBD_REP_ERR_INVALID and the haggling continues.
 */
public final class Handshake {
    /** Transmission-phase limits advertised with NBD_INFO_BLOCK_SIZE. */
    public static final int MIN_BLOCK = 1;
    public static final int PREFERRED_BLOCK = 4096;
    public static final int MAX_BLOCK = 32 << 20;

    private final Wire wire;
    private final Function<String, Optional<Export>> exports;
    private final List<Export> allExports;
    private final SSLContext tls;
    private final boolean tlsRequired;
    private boolean noZeroes;
    private boolean structured;
    private boolean baseAllocation;

    public Handshake(Wire wire, List<Export> allExports, Function<String, Optional<Export>> exports,
                     SSLContext tls, boolean tlsRequired) {
        this.wire = wire;
        this.allExports = allExports;
        this.exports = exports;
        this.tls = tls;
        this.tlsRequired = tlsRequired && tls != null;
    }

    /** Runs the handshake; empty when the client aborted or was refused (the caller closes). */
    public Optional<Session> run() throws IOException {
        DataOutputStream out = wire.out();
        out.writeLong(NBDMAGIC);
        out.writeLong(IHAVEOPT);
        out.writeShort(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
        out.flush();
        int clientFlags = wire.in().readInt();
        if ((clientFlags & ~(C_FLAG_FIXED_NEWSTYLE | C_FLAG_NO_ZEROES)) != 0
                || (clientFlags & C_FLAG_FIXED_NEWSTYLE) == 0) {
            return Optional.empty(); // unknown flags or not fixed newstyle: the spec says close
        }
        noZeroes = (clientFlags & C_FLAG_NO_ZEROES) != 0;
        while (true) {
            long magic = wire.in().readLong();
            if (magic != IHAVEOPT) {
                return Optional.empty();
            }
            int option = wire.in().readInt();
            long length = Integer.toUnsignedLong(wire.in().readInt());
            if (length > MAX_OPTION_LENGTH) {
                if (length > MAX_OPTION_SKIP || option == OPT_EXPORT_NAME) {
                    return Optional.empty();
                }
                wire.skip(length);
                replyError(option, REP_ERR_TOO_BIG, "option too long");
                continue;
            }
            byte[] body = new byte[(int) length];
            wire.in().readFully(body);
            ByteBuffer b = ByteBuffer.wrap(body);
            if (tlsRequired && !wire.isTls() && option != OPT_STARTTLS && option != OPT_ABORT) {
                if (option == OPT_EXPORT_NAME) {
                    return Optional.empty();
                }
                replyError(option, REP_ERR_TLS_REQD, "TLS required");
                continue;
            }
            try {
                Optional<Session> done = option(option, b);
                if (done != null) {
                    return done;
                }
            } catch (BufferUnderflowException | IllegalArgumentException e) {
                if (option == OPT_EXPORT_NAME) {
                    return Optional.empty();
                }
                replyError(option, REP_ERR_INVALID, "malformed option");
            }
        }
    }

    /** Handles one option; returns null to keep haggling, a value to end the handshake. */
    private Optional<Session> option(int option, ByteBuffer b) throws IOException {
        switch (option) {
            case OPT_EXPORT_NAME -> {
                String name = StandardCharsets.UTF_8.decode(b).toString();
                Optional<Export> e = exports.apply(name);
                if (e.isEmpty()) {
                    return Optional.empty();
                }
                DataOutputStream out = wire.out();
                out.writeLong(e.get().backend().size());
                out.writeShort(transmissionFlags(e.get()));
                if (!noZeroes) {
                    out.write(new byte[124]);
                }
                out.flush();
                return Optional.of(new Session(e.get(), structured, baseAllocation));
            }
            case OPT_ABORT -> {
                ack(option);
                return Optional.empty();
            }
            case OPT_LIST -> {
                if (b.hasRemaining()) {
                    replyError(option, REP_ERR_INVALID, "LIST takes no data");
                    return null;
                }
                for (Export e : allExports) {
                    byte[] name = utf8(e.name());
                    byte[] desc = utf8(e.description());
                    ByteBuffer r = ByteBuffer.allocate(4 + name.length + desc.length);
                    r.putInt(name.length).put(name).put(desc);
                    reply(option, REP_SERVER, r.array());
                }
                ack(option);
                return null;
            }
            case OPT_STARTTLS -> {
                if (b.hasRemaining()) {
                    replyError(option, REP_ERR_INVALID, "STARTTLS takes no data");
                } else if (tls == null) {
                    replyError(option, REP_ERR_UNSUP, "TLS not configured");
                } else if (wire.isTls()) {
                    replyError(option, REP_ERR_INVALID, "TLS already active");
                } else {
                    ack(option);
                    wire.startTls(tls);
                }
                return null;
            }
            case OPT_INFO, OPT_GO -> {
                return info(option, b);
            }
            case OPT_STRUCTURED_REPLY -> {
                if (b.hasRemaining()) {
                    replyError(option, REP_ERR_INVALID, "STRUCTURED_REPLY takes no data");
                } else {
                    structured = true;
                    ack(option);
                }
                return null;
            }
            case OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT -> {
                metaContext(option, b);
                return null;
            }
            default -> {
                replyError(option, REP_ERR_UNSUP, "unsupported option " + option);
                return null;
            }
        }
    }

    private Optional<Session> info(int option, ByteBuffer b) throws IOException {
        String name = string(b);
        int n = Short.toUnsignedInt(b.getShort());
        if (b.remaining() != 2 * n) {
            throw new IllegalArgumentException("info request count mismatch");
        }
        boolean wantName = false;
        boolean wantDesc = false;
        for (int i = 0; i < n; i++) {
            int req = Short.toUnsignedInt(b.getShort());
            wantName |= req == INFO_NAME;
            wantDesc |= req == INFO_DESCRIPTION;
        }
        Optional<Export> found = exports.apply(name);
        if (found.isEmpty()) {
            replyError(option, REP_ERR_UNKNOWN, "no export named '" + name + "'");
            return null;
        }
        Export e = found.get();
        ByteBuffer r = ByteBuffer.allocate(12);
        r.putShort((short) INFO_EXPORT).putLong(e.backend().size()).putShort((short) transmissionFlags(e));
        reply(option, REP_INFO, r.array());
        if (wantName) {
            byte[] nb = utf8(e.name());
            reply(option, REP_INFO, ByteBuffer.allocate(2 + nb.length).putShort((short) INFO_NAME).put(nb).array());
        }
        if (wantDesc && !e.description().isEmpty()) {
            byte[] db = utf8(e.description());
            reply(option, REP_INFO,
                    ByteBuffer.allocate(2 + db.length).putShort((short) INFO_DESCRIPTION).put(db).array());
        }
        r = ByteBuffer.allocate(14);
        r.putShort((short) INFO_BLOCK_SIZE).putInt(MIN_BLOCK).putInt(PREFERRED_BLOCK).putInt(MAX_BLOCK);
        reply(option, REP_INFO, r.array());
        ack(option);
        return option == OPT_GO ? Optional.of(new Session(e, structured, baseAllocation)) : null;
    }

    private void metaContext(int option, ByteBuffer b) throws IOException {
        String name = string(b);
        int queries = b.getInt();
        if (queries < 0 || queries > b.remaining() / 4) {
            throw new IllegalArgumentException("query count");
        }
        List<String> qs = new ArrayList<>();
        for (int i = 0; i < queries; i++) {
            qs.add(string(b));
        }
        if (b.hasRemaining()) {
            throw new IllegalArgumentException("trailing bytes");
        }
        if (option == OPT_SET_META_CONTEXT && !structured) {
            replyError(option, REP_ERR_INVALID, "structured replies not negotiated");
            return;
        }
        if (exports.apply(name).isEmpty()) {
            replyError(option, REP_ERR_UNKNOWN, "no export named '" + name + "'");
            return;
        }
        boolean match = option == OPT_LIST_META_CONTEXT && qs.isEmpty();
        for (String q : qs) {
            match |= q.equals(BASE_ALLOCATION) || (option == OPT_LIST_META_CONTEXT && q.equals("base:"));
        }
        if (option == OPT_SET_META_CONTEXT) {
            baseAllocation = match;
        }
        if (match) {
            byte[] ctx = utf8(BASE_ALLOCATION);
            reply(option, REP_META_CONTEXT, ByteBuffer.allocate(4 + ctx.length)
                    .putInt(option == OPT_SET_META_CONTEXT ? BASE_ALLOCATION_ID : 0).put(ctx).array());
        }
        ack(option);
    }

    static int transmissionFlags(Export e) {
        int f = TFLAG_HAS_FLAGS | TFLAG_SEND_FLUSH | TFLAG_SEND_FUA | TFLAG_SEND_TRIM
                | TFLAG_SEND_WRITE_ZEROES | TFLAG_SEND_FAST_ZERO | TFLAG_SEND_DF | TFLAG_CAN_MULTI_CONN
                | TFLAG_SEND_CACHE;
        return e.readOnly() ? f | TFLAG_READ_ONLY : f;
    }

    private static String string(ByteBuffer b) {
        int len = b.getInt();
        if (len < 0 || len > MAX_STRING || len > b.remaining()) {
            throw new IllegalArgumentException("string length " + len);
        }
        byte[] s = new byte[len];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private void ack(int option) throws IOException {
        reply(option, REP_ACK, new byte[0]);
    }

    private void replyError(int option, int type, String message) throws IOException {
        reply(option, type, utf8(message));
    }

    private void reply(int option, int type, byte[] data) throws IOException {
        DataOutputStream out = wire.out();
        out.writeLong(OPT_REPLY_MAGIC);
        out.writeInt(option);
        out.writeInt(type);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }
}
