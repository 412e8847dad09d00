package dev.strata.index.internal;

/**
 * A decoded entry: a leaf record or a buffered message. {@code type} is {@link NodeLayout#PUT},
 * {@link NodeLayout#DELETE} or {@link NodeLayout#UPSERT}, possibly with {@link NodeLayout#OVERFLOW}
 * (then {@code value} is the 12-byte pointer). Immutable but for where the writer decoded it from
 * ({@link #originPage}, {@link #originOffset}), which lets {@link Node#encode(java.lang.foreign.MemorySegment)}
 * keep an entry at its place in the page it came from.
 */
public final class Msg {
    private final byte[] key;
    private final int type;
    private final int operator;
    private final byte[] value;
    /** Page this entry was decoded from and its heap offset there (-1: not decoded from a page). */
    long originPage;
    int originOffset = -1;

    public Msg(byte[] key, int type, int operator, byte[] value) {
        this.key = key;
        this.type = type;
        this.operator = operator;
        this.value = value;
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

    public byte[] value() {
        return value;
    }

    public int kind() {
        return type & NodeLayout.KIND_MASK;
    }

    public boolean overflow() {
        return (type & NodeLayout.OVERFLOW) != 0;
    }

    /** Bytes this entry takes in a node: slot, header, key, value. */
    public int footprint() {
        return NodeLayout.SLOT + NodeLayout.ENTRY_HEADER + key.length + (value == null ? 0 : value.length);
    }

    /** Heap offset of this entry in page {@code pageId} if it was decoded from there, else -1. */
    int originIn(long pageId) {
        return originPage == pageId ? originOffset : -1;
    }
}
