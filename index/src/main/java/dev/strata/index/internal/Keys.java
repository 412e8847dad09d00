package dev.strata.index.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;

/** Byte-string key helpers: unsigned lexicographic order. */
public final class Keys {
    private static final VarHandle LONG_BE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle INT_BE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);

    private Keys() {}

    public static boolean equal(byte[] a, byte[] b) {
        return Arrays.equals(a, b);
    }

    static long longAt(byte[] key, int i) {
        return (long) LONG_BE.get(key, i);
    }

    /**
     * Unsigned lexicographic comparison. Keys are mostly short (a few to a few dozen bytes), where
     * comparing 8 bytes at a time as big-endian longs beats {@code Arrays.compareUnsigned}'s setup.
     */
    public static int compare(byte[] a, byte[] b) {
        int n = Math.min(a.length, b.length);
        if (n > 64) {
            return Arrays.compareUnsigned(a, b);
        }
        if (n >= 4) {
            int x = (int) INT_BE.get(a, 0);
            int y = (int) INT_BE.get(b, 0);
            if (x != y) {
                return Integer.compareUnsigned(x, y);
            }
        }
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            long x = (long) LONG_BE.get(a, i);
            long y = (long) LONG_BE.get(b, i);
            if (x != y) {
                return Long.compareUnsigned(x, y);
            }
        }
        for (; i < n; i++) {
            int x = a[i] & 0xFF;
            int y = b[i] & 0xFF;
            if (x != y) {
                return x - y;
            }
        }
        return a.length - b.length;
    }
}
