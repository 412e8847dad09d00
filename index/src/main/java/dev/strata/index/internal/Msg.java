package dev.strata.index.internal;

/**
 * A decoded entry: a leaf record or a buffered message. {@code type} is {@link NodeLayout#PUT},
 * {@link NodeLayout#DELETE} or {@link NodeLayout#UPSERT}, possibly with {@link NodeLayout#OVERFLOW}
 * (then {@code value} is the 12-byte pointer). Immutable but for where the writer decoded it from
 * ({@link #originPage}, {@link #originOffset}), which lets
 * {@link Node#encode(java.lang.foreign.MemorySegment, byte[])} keep an entry at its place in the page it
 * came from. A decoded entry's value is a range of the node image it was decoded from, not a copy
 * ({@link Node#decode} would otherwise copy every value of a node it decodes to flush a few of them);
 * {@link #value()} copies it out on demand.
 */
public final class Msg {
    private final byte[] key;
    private final int type;
    private final int operator;
    /** The value's bytes, or the array holding them at {@code [valueOffset, +valueLength)}; null for no value. */
    private final byte[] value;
    private final int valueOffset;
    private final int valueLength;
    /** Page this entry was decoded from and its heap offset there (-1: not decoded from a page). */
    long originPage;
    int originOffset = -1;

    public Msg(byte[] key, int type, int operator, byte[] value) {
        this(key, type, operator, value, 0, value == null ? 0 : value.length);
    }

    /** An entry whose value is {@code buf[offset, offset + length)} ({@code buf} null: no value), not copied. */
    Msg(byte[] key, int type, int operator, byte[] buf, int offset, int length) {
        this.key = key;
        this.type = type;
        this.operator = operator;
        this.value = buf;
        this.valueOffset = offset;
        this.valueLength = buf == null ? 0 : length;
    }

    /** This entry with another type and operator, sharing the value bytes. */
    Msg withType(int newType, int newOperator) {
        return new Msg(key, newType, newOperator, value, valueOffset, valueLength);
    }

    public byte[] key() {
        return key;
    }

    public int type() {
        return type;
    }

    public int operator() {
        return operator;
    }

    /** The value (a copy when the entry was decoded from a node), or null. */
    public byte[] value() {
        if (value == null || (valueOffset == 0 && valueLength == value.length)) {
            return value;
        }
        return java.util.Arrays.copyOfRange(value, valueOffset, valueOffset + valueLength);
    }

    /** Bytes of the value (0 for none). */
    int valueLength() {
        return valueLength;
    }

    /** Copies the value to {@code dst} at {@code at}. */
    void copyValue(byte[] dst, int at) {
        if (value != null) {
            System.arraycopy(value, valueOffset, dst, at, valueLength);
        }
    }

    public int kind() {
        return type & NodeLayout.KIND_MASK;
    }

    public boolean overflow() {
        return (type & NodeLayout.OVERFLOW) != 0;
    }

    /** Bytes this entry takes in a node: slot, header, key, value. */
    public int footprint() {
        return NodeLayout.SLOT + NodeLayout.ENTRY_HEADER + key.length + valueLength;
    }

    /** Heap offset of this entry in page {@code pageId} if it was decoded from there, else -1. */
    int originIn(long pageId) {
        return originPage == pageId ? originOffset : -1;
    }
}
