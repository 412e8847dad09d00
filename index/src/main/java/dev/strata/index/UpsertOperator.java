package dev.strata.index;

import java.nio.ByteBuffer;

/**
 * A read-modify-write applied lazily: an upsert message carries a delta and the operator's id; the
 * operator runs when the message meets the value below it (when a buffer flushes into a leaf, or
 * on a read). Operators must be deterministic and registered under the same id whenever the index
 * is opened. Ids 1..15 are reserved for the built-ins.
 */
public interface UpsertOperator {
    /** Stable id, 1..255, stored in every upsert message. */
    int id();

    /**
     * The new value from the old one ({@code null} when absent) and the delta; {@code null} deletes.
     */
    byte[] apply(byte[] old, byte[] delta);

    /** Adds an 8-byte big-endian signed delta to an 8-byte big-endian counter (absent = 0). Id 1. */
    UpsertOperator ADD_LONG = new UpsertOperator() {
        @Override
        public int id() {
            return 1;
        }

        @Override
        public byte[] apply(byte[] old, byte[] delta) {
            long base = old == null || old.length < 8 ? 0 : ByteBuffer.wrap(old).getLong();
            return ByteBuffer.allocate(8).putLong(base + ByteBuffer.wrap(delta).getLong()).array();
        }

        @Override
        public String toString() {
            return "ADD_LONG";
        }
    };

    /** Appends the delta to the value (absent = empty). Id 2. */
    UpsertOperator APPEND = new UpsertOperator() {
        @Override
        public int id() {
            return 2;
        }

        @Override
        public byte[] apply(byte[] old, byte[] delta) {
            if (old == null) {
                return delta.clone();
            }
            byte[] r = java.util.Arrays.copyOf(old, old.length + delta.length);
            System.arraycopy(delta, 0, r, old.length, delta.length);
            return r;
        }

        @Override
        public String toString() {
            return "APPEND";
        }
    };

    /** Encodes a counter delta for {@link #ADD_LONG}. */
    static byte[] longDelta(long delta) {
        return ByteBuffer.allocate(8).putLong(delta).array();
    }

    /** Decodes a value written by {@link #ADD_LONG}. */
    static long longValue(byte[] value) {
        return ByteBuffer.wrap(value).getLong();
    }
}
