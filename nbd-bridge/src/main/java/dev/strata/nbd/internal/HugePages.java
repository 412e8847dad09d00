package dev.strata.nbd.internal;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Asks the kernel for transparent huge pages on a large anonymous range ({@code madvise(MADV_HUGEPAGE)}),
 * best effort: with THP in {@code madvise} mode (as here) a 1 GiB export otherwise takes 262,144 page
 * faults of 4 KiB as it is first written, and every large READ walks 4 KiB TLB entries. Where THP is
 * off or the call fails nothing changes; {@code -Dstrata.nbd.hugePages=false} turns it off. Stateless;
 * thread-safe.
 */
@SuppressWarnings("restricted")
public final class HugePages {
    private HugePages() {}

    private static final boolean ENABLED = !"false".equals(System.getProperty("strata.nbd.hugePages"));
    private static final int MADV_HUGEPAGE = 14;
    private static final long HUGE = 2L << 20;
    private static final MethodHandle MADVISE = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("madvise").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));

    /** Advises huge pages for {@code range} if it is at least 2 MiB; returns whether the kernel accepted. */
    public static boolean advise(MemorySegment range) {
        if (!ENABLED || range.byteSize() < HUGE || !range.isNative()) {
            return false;
        }
        try {
            return (int) MADVISE.invokeExact(range, range.byteSize(), MADV_HUGEPAGE) == 0;
        } catch (Throwable t) {
            return false;
        }
    }
}
