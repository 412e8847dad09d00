package dev.strata.core;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The payload of one log record: the entries of a committed write batch. Shared by the embedded
 * engine and the storage-node server (one format, one codec).
 *
 * <pre>
 * payload := count:u32 entry*
 * entry   := type:u8 sizeClass:u8 reserved:u16 offset:u32 pageNo:u64 length:u32 bytes[length]
 *            (little endian; 20-byte fixed header)
 * type    := 1 DELTA  write bytes at offset of page pageNo
 *          | 2 ALLOC  page pageNo now exists with sizeClass (its bytes are zero)
 *          | 3 FREE   page pageNo no longer exists
 *          | 4 MOVE   copy length bytes within page pageNo from src to offset, as memmove does
 *                     (the entry's bytes are src:u32 length:u32; its length field is 8)
 * </pre>
 *
 * A MOVE lets a writer that slides a page's contents (a slotted page compacting its heap, a sorted
 * array opening a gap) log where bytes went instead of the bytes themselves. Unlike a DELTA, its effect
 * depends on the page's bytes before it, which redo guarantees by applying a record only to a page
 * image older than the record (page LSN), in log order.
 *
 * The decoder checks every count, offset and length against the payload and the page size before
 * touching memory: a corrupt record is reported, never followed.
 */
public final class BatchFormat {
    public static final byte DELTA = 1;
    public static final byte ALLOC = 2;
    public static final byte FREE = 3;
    public static final byte MOVE = 4;
    private static final int MOVE_BYTES = 8;
    public static final int ENTRY_HEADER = 20;

    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private BatchFormat() {}

    /** Receives decoded entries in order. {@code bytes} is a view valid only during the call. */
    public interface Visitor {
        void delta(long pageNo, int offset, MemorySegment bytes);

        void alloc(long pageNo, int sizeClass);

        void free(long pageNo);

        /** {@code length} bytes of page {@code pageNo} at {@code src} were copied to {@code dst} (memmove). */
        void move(long pageNo, int src, int dst, int length);
    }

    /**
     * Appends entries to a growable heap buffer. Not thread-safe. Buffers are reused: {@link #finish()}
     * and {@link #recycle} give one back to a small shared pool (up to {@link #SPARES} buffers of up to
     * {@link #SPARE_MAX} bytes) that new encoders take from, so that batch after batch grows its buffer
     * once instead of doubling it from a few hundred bytes for every batch (which was over a third of
     * all bytes an index load allocated).
     */
    public static final class Encoder {
        /** Largest buffer the pool keeps. */
        public static final int SPARE_MAX = 16 << 20;
        /** Buffers the pool keeps. */
        static final int SPARES = 4;
        private static final byte[] NONE = new byte[0];
        private static final AtomicReferenceArray<byte[]> POOL = new AtomicReferenceArray<>(SPARES);

        private byte[] buf;
        private int pos = 4;
        private int count;

        public Encoder() {
            byte[] spare = null;
            for (int i = 0; i < SPARES && spare == null; i++) {
                if (POOL.get(i) != null) {
                    spare = POOL.getAndSet(i, null);
                }
            }
            buf = spare != null ? spare : new byte[256];
        }

        /**
         * Gives a buffer that {@link #release} returned back to the pool, once nothing reads it any more
         * (dropped if the pool is full or the buffer is larger than {@link #SPARE_MAX}).
         */
        public static void recycle(byte[] buffer) {
            if (buffer.length == 0 || buffer.length > SPARE_MAX) {
                return;
            }
            for (int i = 0; i < SPARES; i++) {
                if (POOL.get(i) == null && POOL.compareAndSet(i, null, buffer)) {
                    return;
                }
            }
        }

        public Encoder delta(long pageNo, int offset, MemorySegment src) {
            int len = Math.toIntExact(src.byteSize());
            header(DELTA, 0, offset, pageNo, len);
            MemorySegment.copy(src, 0, MemorySegment.ofArray(buf), pos, len);
            pos += len;
            return this;
        }

        public Encoder move(long pageNo, int src, int dst, int length) {
            if (src < 0 || dst < 0 || length < 0) {
                throw new IllegalArgumentException("move of " + length + " bytes from " + src + " to " + dst);
            }
            header(MOVE, 0, dst, pageNo, MOVE_BYTES);
            MemorySegment s = MemorySegment.ofArray(buf);
            s.set(INT, pos, src);
            s.set(INT, pos + 4, length);
            pos += MOVE_BYTES;
            return this;
        }

        public Encoder alloc(long pageNo, int sizeClass) {
            header(ALLOC, sizeClass, 0, pageNo, 0);
            return this;
        }

        public Encoder free(long pageNo) {
            header(FREE, 0, 0, pageNo, 0);
            return this;
        }

        private void header(byte type, int sizeClass, int offset, long pageNo, int len) {
            ensure(ENTRY_HEADER + len);
            MemorySegment s = MemorySegment.ofArray(buf);
            s.set(ValueLayout.JAVA_BYTE, pos, type);
            s.set(ValueLayout.JAVA_BYTE, pos + 1, (byte) sizeClass);
            s.set(INT, pos + 4, offset);
            s.set(LONG, pos + 8, pageNo);
            s.set(INT, pos + 16, len);
            pos += ENTRY_HEADER;
            count++;
        }

        private void ensure(int extra) {
            long need = (long) pos + extra;
            if (need > Integer.MAX_VALUE - 16) {
                throw new StrataException("write batch exceeds 2 GiB");
            }
            if (need > buf.length) {
                buf = Arrays.copyOf(buf, (int) Math.max(need, Math.min(Integer.MAX_VALUE - 16, 2L * buf.length)));
            }
        }

        public int count() {
            return count;
        }

        public int sizeBytes() {
            return pos;
        }

        /** The encoded payload (a copy). */
        public byte[] toBytes() {
            MemorySegment.ofArray(buf).set(INT, 0, count);
            return Arrays.copyOf(buf, pos);
        }

        /**
         * The encoded payload (a copy, like {@link #toBytes()}); the encoder is then empty and its buffer
         * goes back to the pool.
         */
        public byte[] finish() {
            byte[] out = toBytes();
            recycle(release());
            return out;
        }

        /**
         * The encoder's own buffer, holding the payload in its first {@link #sizeBytes()} bytes (read that
         * first): no copy. The encoder is then empty, with no buffer; the caller owns this one and may hand
         * it to {@link #recycle} once done with it.
         */
        public byte[] release() {
            MemorySegment.ofArray(buf).set(INT, 0, count);
            byte[] out = buf;
            buf = NONE;
            reset();
            return out;
        }

        public void reset() {
            pos = 4;
            count = 0;
        }

        /** Empties the encoder and gives its buffer back to the pool. */
        public void discard() {
            reset();
            byte[] old = buf;
            buf = NONE;
            recycle(old);
        }
    }

    /**
     * Decodes {@code payload}, calling {@code visitor} per entry. Throws {@link CorruptionException}
     * if any length or offset is inconsistent; nothing past the inconsistency is visited.
     */
    public static void decode(MemorySegment payload, Visitor visitor) {
        long size = payload.byteSize();
        if (size < 4) {
            throw new CorruptionException("batch payload shorter than its count field: " + size + " bytes");
        }
        int count = payload.get(INT, 0);
        if (count < 0 || (long) count * ENTRY_HEADER > size - 4) {
            throw new CorruptionException("batch claims " + count + " entries in " + size + " bytes");
        }
        long pos = 4;
        for (int i = 0; i < count; i++) {
            if (pos + ENTRY_HEADER > size) {
                throw new CorruptionException("batch entry " + i + " header past end of payload");
            }
            byte type = payload.get(ValueLayout.JAVA_BYTE, pos);
            int sizeClass = payload.get(ValueLayout.JAVA_BYTE, pos + 1);
            int offset = payload.get(INT, pos + 4);
            long pageNo = payload.get(LONG, pos + 8);
            int len = payload.get(INT, pos + 16);
            pos += ENTRY_HEADER;
            if (pageNo < 0 || pageNo > PageId.MAX_PAGE_NUMBER) {
                throw new CorruptionException("batch entry " + i + " has page number " + pageNo);
            }
            switch (type) {
                case DELTA -> {
                    if (len < 0 || offset < 0 || (long) offset + len > PageSize.MAX || pos + len > size) {
                        throw new CorruptionException("batch delta " + i + " offset " + offset + " length " + len
                                + " does not fit");
                    }
                    visitor.delta(pageNo, offset, payload.asSlice(pos, len));
                    pos += len;
                }
                case ALLOC -> {
                    if (sizeClass < 0 || sizeClass > PageSize.MAX_CLASS || len != 0) {
                        throw new CorruptionException("batch alloc " + i + " has size class " + sizeClass);
                    }
                    visitor.alloc(pageNo, sizeClass);
                }
                case FREE -> {
                    if (len != 0) {
                        throw new CorruptionException("batch free " + i + " carries " + len + " bytes");
                    }
                    visitor.free(pageNo);
                }
                case MOVE -> {
                    if (len != MOVE_BYTES || pos + MOVE_BYTES > size) {
                        throw new CorruptionException("batch move " + i + " carries " + len + " bytes");
                    }
                    int src = payload.get(INT, pos);
                    int moved = payload.get(INT, pos + 4);
                    if (src < 0 || moved < 0 || offset < 0 || (long) src + moved > PageSize.MAX
                            || (long) offset + moved > PageSize.MAX) {
                        throw new CorruptionException("batch move " + i + " of " + moved + " bytes from " + src
                                + " to " + offset + " does not fit");
                    }
                    visitor.move(pageNo, src, offset, moved);
                    pos += MOVE_BYTES;
                }
                default -> throw new CorruptionException("batch entry " + i + " has unknown type " + type);
            }
        }
        if (pos != size) {
            throw new CorruptionException("batch has " + (size - pos) + " trailing bytes");
        }
    }
}
