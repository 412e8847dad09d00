package dev.strata.core;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * C library calls through {@code java.lang.foreign} with {@code errno} captured: every handle made by
 * {@link #downcall} takes a call-state segment ({@link #callState}) as its first argument, from which
 * {@link #errno} reads the call's {@code errno} and {@link #error} makes an {@link IOException}
 * naming the call and the C library's message.
 */
public final class Libc {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");
    private static final MemoryLayout STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO_VH = STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle STRERROR = LINKER.downcallHandle(LIBC.find("strerror").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));

    /** {@code int malloc_trim(size_t pad)}: glibc only; null where the C library has none. */
    private static final MethodHandle MALLOC_TRIM = LIBC.find("malloc_trim")
            .map(a -> LINKER.downcallHandle(a, FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG)))
            .orElse(null);

    private Libc() {}

    /**
     * Gives the C heap's free pages back to the system ({@code malloc_trim(0)}): glibc keeps what a thread
     * freed in that thread's arena, so native buffers that grew and were replaced, and the compiler's
     * working memory, stay resident after their peak. Best effort.
     *
     * @return whether the call was made: false where the C library has none (not glibc)
     */
    public static boolean trimNativeHeap() {
        if (MALLOC_TRIM == null) {
            return false;
        }
        try {
            int released = (int) MALLOC_TRIM.invokeExact(0L); // 1 if it gave any memory back
            return true;
        } catch (Throwable t) {
            return false;
        }
    }

    /** A handle for the C function {@code name} that captures {@code errno} into its first argument. */
    public static MethodHandle downcall(String name, FunctionDescriptor fd, Linker.Option... extra) {
        Linker.Option[] opts = new Linker.Option[extra.length + 1];
        opts[0] = ERRNO;
        System.arraycopy(extra, 0, opts, 1, extra.length);
        return LINKER.downcallHandle(LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("no " + name + " in libc")),
                fd, opts);
    }

    /** A call-state segment for one call (allocate it in the caller's confined arena). */
    public static MemorySegment callState(Arena arena) {
        return arena.allocate(STATE);
    }

    /** The {@code errno} a call left in {@code state}. */
    public static int errno(MemorySegment state) {
        return (int) ERRNO_VH.get(state, 0L);
    }

    /** The C library's message for an {@code errno} value. */
    public static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    /** {@code "<what> failed: <message> (errno N)"} for the {@code errno} in {@code state}. */
    public static IOException error(String what, MemorySegment state) {
        int e = errno(state);
        return new IOException(what + " failed: " + strerror(e) + " (errno " + e + ")");
    }
}
