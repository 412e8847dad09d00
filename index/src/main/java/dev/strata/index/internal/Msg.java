package dev.strata.index.internal;

/**
 * A decoded entry: a leaf record or a buffered message. {@code type} is {@link NodeLayout#PUT},
 * {@link NodeLayout#DELETE} or {@link NodeLayout#UPSERT}, possibly with {@link NodeLayout#OVERFLOW}
 * (then {@code value} is the 12-byte pointer). Immutable by convention.
 */
public record Msg(byte[] key, int type, int operator, byte[] value) {
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
}
