package dev.strata.core;

/**
 * Page size classes: a page is {@code 4 KiB << sizeClass}, from 4 KiB (class 0) to 256 KiB (class 6).
 * A page of class {@code c} occupies {@code 1 << c} contiguous 4 KiB slots.
 */
public final class PageSize {
    public static final int BASE_SHIFT = 12;
    public static final int BASE = 1 << BASE_SHIFT;
    public static final int MAX_CLASS = 6;
    public static final int MAX = BASE << MAX_CLASS;

    private PageSize() {}

    /** Bytes of a page of the given size class. */
    public static int bytes(int sizeClass) {
        checkClass(sizeClass);
        return BASE << sizeClass;
    }

    /** Number of 4 KiB slots a page of the given class spans. */
    public static int slots(int sizeClass) {
        checkClass(sizeClass);
        return 1 << sizeClass;
    }

    /** The size class of an exact page size in bytes (a power of two between 4 KiB and 256 KiB). */
    public static int classOf(int bytes) {
        if (bytes < BASE || bytes > MAX || Integer.bitCount(bytes) != 1) {
            throw new IllegalArgumentException(
                    "page size must be a power of two between 4 KiB and 256 KiB, got " + bytes + " bytes");
        }
        return Integer.numberOfTrailingZeros(bytes) - BASE_SHIFT;
    }

    public static void checkClass(int sizeClass) {
        if (sizeClass < 0 || sizeClass > MAX_CLASS) {
            throw new IllegalArgumentException("size class out of range [0, " + MAX_CLASS + "]: " + sizeClass);
        }
    }
}
