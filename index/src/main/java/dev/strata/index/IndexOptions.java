package dev.strata.index;

import java.util.List;

/**
 * Options of an index, fixed when it is created (node sizes are stored in the catalog and win on reopen).
 *
 * @param leafBytes page size of leaves (4 KiB .. 64 KiB, a power of two)
 * @param internalBytes page size of internal nodes, which hold pivots and the message buffer (16 .. 256 KiB)
 * @param operators upsert operators besides the built-ins {@link UpsertOperator#ADD_LONG} and {@link UpsertOperator#APPEND}
 */
public record IndexOptions(int leafBytes, int internalBytes, List<UpsertOperator> operators) {
    public static final int MAX_KEY_BYTES = 1024;

    public IndexOptions {
        if (Integer.bitCount(leafBytes) != 1 || leafBytes < 4096 || leafBytes > 65536) {
            throw new IllegalArgumentException("leafBytes must be a power of two in 4 KiB..64 KiB: " + leafBytes);
        }
        if (Integer.bitCount(internalBytes) != 1 || internalBytes < 16384 || internalBytes > 262144) {
            throw new IllegalArgumentException("internalBytes must be a power of two in 16 KiB..256 KiB: " + internalBytes);
        }
        operators = List.copyOf(operators);
    }

    /** 16 KiB leaves, 64 KiB internal nodes, built-in operators only. */
    public static IndexOptions defaults() {
        return new IndexOptions(16384, 65536, List.of());
    }

    public IndexOptions withNodeBytes(int leaf, int internal) {
        return new IndexOptions(leaf, internal, operators);
    }

    public IndexOptions withOperator(UpsertOperator op) {
        var ops = new java.util.ArrayList<>(operators);
        ops.add(op);
        return new IndexOptions(leafBytes, internalBytes, ops);
    }
}
