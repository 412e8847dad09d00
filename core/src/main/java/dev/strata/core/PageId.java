package dev.strata.core;

/**
 * A page identifier packed in a {@code long}: 16 bits of partition, 48 bits of page number.
 *
 * <pre>
 *  63            48 47                                             0
 * +----------------+------------------------------------------------+
 * |   partition    |                  page number                   |
 * +----------------+------------------------------------------------+
 * </pre>
 *
 * Static helpers only, so page ids stay primitive on hot paths.
 */
public final class PageId {
    public static final int PARTITION_BITS = 16;
    public static final int PAGE_BITS = 48;
    public static final long MAX_PAGE_NUMBER = (1L << PAGE_BITS) - 1;
    public static final int MAX_PARTITION = (1 << PARTITION_BITS) - 1;

    private PageId() {}

    public static long of(int partition, long pageNumber) {
        if (partition < 0 || partition > MAX_PARTITION) {
            throw new IllegalArgumentException("partition out of range [0, " + MAX_PARTITION + "]: " + partition);
        }
        if (pageNumber < 0 || pageNumber > MAX_PAGE_NUMBER) {
            throw new IllegalArgumentException("page number out of range [0, 2^48): " + pageNumber);
        }
        return ((long) partition << PAGE_BITS) | pageNumber;
    }

    public static int partition(long pageId) {
        return (int) (pageId >>> PAGE_BITS);
    }

    public static long pageNumber(long pageId) {
        return pageId & MAX_PAGE_NUMBER;
    }

    public static String toString(long pageId) {
        return partition(pageId) + ":" + pageNumber(pageId);
    }
}
