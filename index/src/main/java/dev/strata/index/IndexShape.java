package dev.strata.index;

/**
 * What an index's tree looks like now, from a walk over all its nodes ({@link Index#shape()}), as
 * LMDB's {@code mdb_stat} reports depth and page counts: how many pages the index takes and how full
 * its leaves are.
 *
 * @param height levels of the tree (1 while the root is a leaf)
 * @param internalNodes nodes with children, the root among them once it has any
 * @param leaves leaf nodes
 * @param records records in the leaves (messages still in buffers not counted)
 * @param bufferedMessages messages in internal nodes' buffers, not yet applied to leaves
 * @param leafBytes bytes of the leaves' pages
 * @param leafBytesUsed bytes of the leaves' pages their headers, slots and records take
 */
public record IndexShape(int height, long internalNodes, long leaves, long records, long bufferedMessages,
        long leafBytes, long leafBytesUsed) {

    /** Share of the leaves' page bytes in use, 0 to 1 (0 without leaves). */
    public double leafFill() {
        return leafBytes == 0 ? 0 : (double) leafBytesUsed / leafBytes;
    }

    @Override
    public String toString() {
        return String.format("height %d, %,d internal nodes, %,d leaves (%.1f%% full), %,d records, "
                + "%,d buffered messages", height, internalNodes, leaves, 100 * leafFill(), records, bufferedMessages);
    }
}
