package dev.strata.migration.internal;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Reads {@link Wire} frames into one reused buffer. Every length is checked against the bound of
 * its frame type before a byte of payload is read, so a hostile length never allocates. Single
 * reader thread only.
 */
public final class FrameReader {
    private final DataInputStream in;
    private byte[] buf;
    private ByteBuffer view;
    private int maxChunk;
    private int length;

    public FrameReader(InputStream in) {
        this.in = new DataInputStream(in);
        this.buf = new byte[Wire.MAX_CONTROL];
        this.view = ByteBuffer.wrap(buf);
    }

    /** Allows CHUNK frames of up to {@code chunkSize} data bytes (after negotiation). */
    public void allowChunks(int chunkSize) {
        if (!Wire.validChunkSize(chunkSize)) {
            throw new IllegalArgumentException("chunk size " + chunkSize);
        }
        maxChunk = chunkSize;
        if (buf.length < Wire.CHUNK_HEADER + chunkSize) {
            buf = new byte[Wire.CHUNK_HEADER + chunkSize];
            view = ByteBuffer.wrap(buf);
        }
    }

    /** Reads the next frame and returns its type; the payload is then in {@link #payload()}. */
    public int next() throws IOException {
        int len;
        try {
            len = in.readInt();
        } catch (EOFException e) {
            throw new EOFException("peer closed the connection");
        }
        if (len < 1) {
            throw new ProtocolException(Wire.E_BAD_FRAME, "frame length " + Integer.toUnsignedString(len));
        }
        int type = in.readUnsignedByte();
        int payload = len - 1;
        int fixed = Wire.fixedLength(type);
        if (fixed >= 0) {
            if (payload != fixed) {
                throw new ProtocolException(Wire.E_BAD_FRAME,
                        Wire.typeName(type) + " frame of " + payload + " bytes, expected " + fixed);
            }
        } else if (type == Wire.CHUNK) {
            if (maxChunk == 0 || payload <= Wire.CHUNK_HEADER || payload > Wire.CHUNK_HEADER + maxChunk) {
                throw new ProtocolException(Wire.E_BAD_FRAME, "CHUNK frame of " + payload + " bytes, limit "
                        + (Wire.CHUNK_HEADER + maxChunk));
            }
        } else if (type == Wire.ERROR) {
            if (payload < 2 || payload > Wire.MAX_CONTROL) {
                throw new ProtocolException(Wire.E_BAD_FRAME, "ERROR frame of " + payload + " bytes");
            }
        } else {
            throw new ProtocolException(Wire.E_BAD_FRAME, "unknown frame type " + type);
        }
        in.readFully(buf, 0, payload);
        length = payload;
        view.clear().limit(payload);
        return type;
    }

    /** The payload of the last frame, positioned at 0; valid until the next {@link #next()}. */
    public ByteBuffer payload() {
        return view;
    }

    /** The array behind {@link #payload()}. */
    public byte[] array() {
        return buf;
    }

    public int length() {
        return length;
    }

    /** Decodes the last frame as an ERROR into an exception. */
    public ProtocolException error() {
        int code = view.getShort(0) & 0xffff;
        String msg = new String(buf, 2, length - 2, StandardCharsets.UTF_8);
        return new ProtocolException(code, "peer error " + code + ": " + msg);
    }
}
