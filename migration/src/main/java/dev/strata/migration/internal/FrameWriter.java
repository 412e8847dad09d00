package dev.strata.migration.internal;

import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Writes {@link Wire} frames to a buffered stream. Thread-safe (every frame is written under the
 * writer's monitor, so frames from several threads never interleave); nothing is sent until
 * {@link #flush()}.
 */
public final class FrameWriter {
    private final DataOutputStream out;

    public FrameWriter(OutputStream out) {
        this.out = new DataOutputStream(new BufferedOutputStream(out, 256 * 1024));
    }

    private void header(int type, int payload) throws IOException {
        out.writeInt(payload + 1);
        out.writeByte(type);
    }

    public synchronized void hello(int minVersion, int maxVersion, long migrationId, long lastReceivedGen,
                                   int maxChunk, int flags) throws IOException {
        header(Wire.HELLO, Wire.HELLO_LEN);
        out.writeLong(Wire.MAGIC);
        out.writeShort(minVersion);
        out.writeShort(maxVersion);
        out.writeLong(migrationId);
        out.writeLong(lastReceivedGen);
        out.writeInt(maxChunk);
        out.writeInt(flags);
    }

    public synchronized void welcome(int version, long size, int chunkSize, long epoch, long migrationId,
                                     boolean fenced) throws IOException {
        header(Wire.WELCOME, Wire.WELCOME_LEN);
        out.writeShort(version);
        out.writeLong(size);
        out.writeInt(chunkSize);
        out.writeLong(epoch);
        out.writeLong(migrationId);
        out.writeByte(fenced ? 1 : 0);
    }

    public synchronized void round(int round) throws IOException {
        header(Wire.ROUND, Wire.ROUND_LEN);
        out.writeInt(round);
    }

    public synchronized void chunk(long index, long gen, byte[] data, int length) throws IOException {
        header(Wire.CHUNK, Wire.CHUNK_HEADER + length);
        out.writeLong(index);
        out.writeLong(gen);
        out.write(data, 0, length);
    }

    public synchronized void roundEnd(int round, long chunks, long bytes, long staleSent, long unsent,
                                      double dirtyRate) throws IOException {
        header(Wire.ROUND_END, Wire.ROUND_END_LEN);
        out.writeInt(round);
        out.writeLong(chunks);
        out.writeLong(bytes);
        out.writeLong(staleSent);
        out.writeLong(unsent);
        out.writeDouble(dirtyRate);
    }

    public synchronized void get(long first, int count, boolean urgent) throws IOException {
        header(Wire.GET, Wire.GET_LEN);
        out.writeLong(first);
        out.writeInt(count);
        out.writeByte(urgent ? 1 : 0);
    }

    public synchronized void finalizeAt(long newEpoch) throws IOException {
        header(Wire.FINALIZE, Wire.FINALIZE_LEN);
        out.writeLong(newEpoch);
    }

    public synchronized void finalEnd(long epoch, long chunks, long suspendNanos, long unsent) throws IOException {
        header(Wire.FINAL_END, Wire.FINAL_END_LEN);
        out.writeLong(epoch);
        out.writeLong(chunks);
        out.writeLong(suspendNanos);
        out.writeLong(unsent);
    }

    public synchronized void abort() throws IOException {
        header(Wire.ABORT, 0);
    }

    public synchronized void bye() throws IOException {
        header(Wire.BYE, 0);
    }

    public synchronized void error(int code, String message) throws IOException {
        byte[] m = message.getBytes(StandardCharsets.UTF_8);
        int n = Math.min(m.length, 1024);
        header(Wire.ERROR, 2 + n);
        out.writeShort(code);
        out.write(m, 0, n);
    }

    public synchronized void flush() throws IOException {
        out.flush();
    }
}
