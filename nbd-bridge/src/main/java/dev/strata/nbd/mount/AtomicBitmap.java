package dev.strata.nbd.mount;

import java.util.concurrent.atomic.AtomicLongArray;

/** A fixed-size lock-free bitmap (one bit per chunk); every operation is a CAS on one 64-bit word. */
public final class AtomicBitmap {
    private final AtomicLongArray words;
    private final long bits;

    public AtomicBitmap(long bits) {
        this.bits = bits;
        this.words = new AtomicLongArray((int) ((bits + 63) >>> 6));
    }

    public long size() {
        return bits;
    }

    public boolean get(long i) {
        return (words.get((int) (i >>> 6)) & (1L << i)) != 0;
    }

    /** Sets bit i; returns true if this call changed it from 0 to 1. */
    public boolean trySet(long i) {
        int w = (int) (i >>> 6);
        long m = 1L << i;
        long v;
        do {
            v = words.get(w);
            if ((v & m) != 0) {
                return false;
            }
        } while (!words.compareAndSet(w, v, v | m));
        return true;
    }

    /** Clears bit i; returns true if this call changed it from 1 to 0. */
    public boolean tryClear(long i) {
        int w = (int) (i >>> 6);
        long m = 1L << i;
        long v;
        do {
            v = words.get(w);
            if ((v & m) == 0) {
                return false;
            }
        } while (!words.compareAndSet(w, v, v & ~m));
        return true;
    }

    /** Index of the first set bit at or after {@code from}, or -1. */
    public long nextSet(long from) {
        if (from >= bits) {
            return -1;
        }
        int w = (int) (from >>> 6);
        long v = words.get(w) & (-1L << from);
        while (true) {
            if (v != 0) {
                long i = ((long) w << 6) + Long.numberOfTrailingZeros(v);
                return i < bits ? i : -1;
            }
            if (++w >= words.length()) {
                return -1;
            }
            v = words.get(w);
        }
    }

    public long cardinality() {
        long n = 0;
        for (int i = 0; i < words.length(); i++) {
            n += Long.bitCount(words.get(i));
        }
        return n;
    }
}
