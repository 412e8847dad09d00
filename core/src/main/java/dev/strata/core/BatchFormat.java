package dev.strata.core;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

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
     * Appends entries to a growable native buffer. Not thread-safe. Buffers come from a small shared pool (up to
     * {@link #SPARES} buffers of up to {@link #SPARE_MAX} bytes, {@link #SPARES_KEPT} in all, see
     * {@link SpareBuffers}), taken at the first entry and given back by {@link #finish()}, {@link #discard()} or
     * {@link #recycle} (a committed batch's, by the log once it wrote the payload), so that batch after batch grows
     * its buffer once instead of doubling it from a few hundred bytes for every batch. Off the Java heap, a batch's
     * megabytes of payload are never promoted into (and left for full collections in) a small old generation. An
     * encoder with entries that is dropped without any of those calls keeps its buffer allocated: a write batch
     * gives it back when it commits or closes.
     */
    public static final class Encoder {
        /** Largest buffer the pool keeps. */
        public static final int SPARE_MAX = 16 << 20;
        /**
         * Buffers the pool keeps: as many as a load has batches in flight (their buffers are lent to the log until
         * written), but together no more than {@link #SPARES_KEPT} bytes.
         */
        static final int SPARES = 32;
        /** Most bytes the pool's kept buffers add up to: the two frame buffers a log kept when it copied payloads. */
        static final long SPARES_KEPT = 32 << 20;
        private static final SpareBuffers POOL = new SpareBuffers(SPARES, 64 << 10, SPARE_MAX, SPARES_KEPT);

        private MemorySegment buf = MemorySegment.NULL;
        private int pos = 4;
        private int count;

        /**
         * Gives a buffer that {@link #release} returned back to the pool, once nothing reads it any more (freed if
         * the pool holds larger ones or it is larger than {@link #SPARE_MAX}).
         */
        public static void recycle(MemorySegment buffer) {
            POOL.recycle(buffer);
        }

        /** Native bytes of the pool's buffers: kept, in use by encoders, or released and not yet recycled. */
        public static long pooledBytes() {
            return POOL.allocatedBytes();
        }

        public Encoder delta(long pageNo, int offset, MemorySegment src) {
            int len = Math.toIntExact(src.byteSize());
            header(DELTA, 0, offset, pageNo, len);
            MemorySegment.copy(src, 0, buf, pos, len);
            pos += len;
            return this;
        }

        public Encoder move(long pageNo, int src, int dst, int length) {
            if (src < 0 || dst < 0 || length < 0) {
                throw new IllegalArgumentException("move of " + length + " bytes from " + src + " to " + dst);
            }
            header(MOVE, 0, dst, pageNo, MOVE_BYTES);
            buf.set(INT, pos, src);
            buf.set(INT, pos + 4, length);
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
            MemorySegment s = buf;
            s.set(ValueLayout.JAVA_BYTE, pos, type);
            s.set(ValueLayout.JAVA_BYTE, pos + 1, (byte) sizeClass);
            s.set(ValueLayout.JAVA_SHORT_UNALIGNED, pos + 2, (short) 0);
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
            if (buf.byteSize() == 0) {
                buf = POOL.take(need);
            } else if (need > buf.byteSize()) {
                buf = POOL.grow(buf, pos, Math.min(Integer.MAX_VALUE - 16, Math.max(need, 2 * buf.byteSize())));
            }
        }

        public int count() {
            return count;
        }

        public int sizeBytes() {
            return pos;
        }

        /** The encoded payload (a copy, on the heap). */
        public byte[] toBytes() {
            byte[] out = new byte[pos];
            MemorySegment o = MemorySegment.ofArray(out);
            o.set(INT, 0, count);
            if (pos > 4) {
                MemorySegment.copy(buf, 4, o, 4, pos - 4);
            }
            return out;
        }

        /**
         * The encoded payload (a copy, like {@link #toBytes()}); the encoder is then empty and its buffer
         * goes back to the pool.
         */
        public byte[] finish() {
            byte[] out = toBytes();
            discard();
            return out;
        }

        /**
         * The encoder's own buffer, holding the payload in its first {@link #sizeBytes()} bytes (read that
         * first): no copy. The encoder is then empty, with no buffer; the caller owns this one and hands it
         * to {@link #recycle} once done with it. An encoder without entries returns an empty segment.
         */
        public MemorySegment release() {
            ensure(0);
            buf.set(INT, 0, count);
            MemorySegment out = buf;
            buf = MemorySegment.NULL;
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
            MemorySegment old = buf;
            buf = MemorySegment.NULL;
            POOL.recycle(old);
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
