package dev.strata.index;

/**
 * Counts of an index's writes since it was opened in this process: what the tree did with them. A
 * message is merged once into every level it passes, so {@link #messagesPerLeafMerge()} and
 * {@link #messagesPerBufferMerge()} say how much each merge carries. Out of memory each merge into a
 * node that is not in the pool costs a page read and a later write-back, so these two ratios are the
 * write amplification the buffers buy down.
 *
 * @param batches write batches (parts of an {@link Index#apply} batch count one each)
 * @param messages puts, deletes and upserts written
 * @param directBatches batches applied straight to their leaf, skipping the buffers (sequential loads)
 * @param leafMerges merges of messages into a leaf's records
 * @param leafMergeMessages messages those merges carried
 * @param bufferMerges merges of messages flushed from a node into a child's buffer
 * @param bufferMergeMessages messages those merges carried
 * @param inPlaceMerges merges (of either kind) made in the node's page, without decoding it
 * @param leafSplits leaf splits
 * @param internalSplits internal node splits
 * @param leafJoins leaves that fell below a quarter of their page and were joined with a neighbour (its page freed)
 */
public record IndexStats(long batches, long messages, long directBatches, long leafMerges, long leafMergeMessages,
        long bufferMerges, long bufferMergeMessages, long inPlaceMerges, long leafSplits, long internalSplits,
        long leafJoins) {

    /** Messages per merge into a leaf (0 before the first). */
    public double messagesPerLeafMerge() {
        return leafMerges == 0 ? 0 : (double) leafMergeMessages / leafMerges;
    }

    /** Messages per merge into a child's buffer (0 before the first). */
    public double messagesPerBufferMerge() {
        return bufferMerges == 0 ? 0 : (double) bufferMergeMessages / bufferMerges;
    }

    @Override
    public String toString() {
        return String.format("%,d batches (%,d direct), %,d messages; %,d leaf merges (%.1f messages each), "
                + "%,d buffer merges (%.1f each), %,d of them in place; %,d leaf and %,d internal splits, "
                + "%,d leaf joins",
                batches, directBatches, messages, leafMerges, messagesPerLeafMerge(), bufferMerges,
                messagesPerBufferMerge(), inPlaceMerges, leafSplits, internalSplits, leafJoins);
    }
}
