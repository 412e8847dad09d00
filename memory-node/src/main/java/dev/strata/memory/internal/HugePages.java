package dev.strata.memory.internal;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Asks the kernel to back a reservation with transparent huge pages ({@code madvise(MADV_HUGEPAGE)}).
 * Whether it does depends on {@code /sys/kernel/mm/transparent_hugepage/enabled}; a freed frame's
 * {@code MADV_DONTNEED} splits the huge page under it.
 */
@SuppressWarnings("restricted")
final class HugePages {
    private static final int MADV_HUGEPAGE = 14;
    private static final MethodHandle MADVISE = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("madvise").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));

    private HugePages() {}

    /** True when the advice was accepted. */
    static boolean advise(MemorySegment reservation) {
        try {
            return (int) MADVISE.invokeExact(reservation, reservation.byteSize(), MADV_HUGEPAGE) == 0;
        } catch (Throwable t) {
            return false;
        }
    }
}
