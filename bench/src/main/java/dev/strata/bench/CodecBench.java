package dev.strata.bench;

import dev.strata.core.LzCodec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * {@link LzCodec} on page images shaped like the index's under the out-of-memory benchmark (16-byte random
 * keys, one 100-byte value): a 16 KiB leaf 90% full, and a 64 KiB internal node whose message buffer fills
 * 40% of it (front and heap, zeros between). Every write-back compresses one such image. Rates are pages/s.
 */
@State(Scope.Thread)
public class CodecBench extends BenchBase {
    private final LzCodec codec = new LzCodec();
    private byte[] leaf;
    private byte[] internal;
    private byte[] out;

    @Setup
    public void setUp() {
        SplittableRandom rnd = new SplittableRandom(7);
        byte[] value = new byte[100];
        rnd.nextBytes(value);
        leaf = image(16384, 0.9, value, rnd);
        internal = image(65536, 0.4, value, rnd);
        out = new byte[(int) LzCodec.maxCompressedLength(65536)];
    }

    /** A slotted page: 2-byte slots at the front, entries (header, key, value) packed from the end. */
    private static byte[] image(int size, double fill, byte[] value, SplittableRandom rnd) {
        byte[] page = new byte[size];
        ByteBuffer b = ByteBuffer.wrap(page).order(ByteOrder.LITTLE_ENDIAN);
        int entry = 4 + 16 + value.length;
        int count = (int) (size * fill) / (entry + 2);
        int heap = size;
        byte[] key = new byte[16];
        for (int i = 0; i < count; i++) {
            heap -= entry;
            b.putShort(32 + 2 * i, (short) heap);
            b.putShort(heap, (short) 16);
            b.putShort(heap + 2, (short) value.length);
            rnd.nextBytes(key);
            System.arraycopy(key, 0, page, heap + 4, 16);
            System.arraycopy(value, 0, page, heap + 20, value.length);
        }
        b.putInt(0, count);
        return page;
    }

    @Benchmark
    public int compressLeaf16k() {
        return codec.compress(leaf, leaf.length, out, out.length);
    }

    @Benchmark
    public int compressInternal64k() {
        return codec.compress(internal, internal.length, out, out.length);
    }
}
