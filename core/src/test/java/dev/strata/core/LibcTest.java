package dev.strata.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import org.junit.jupiter.api.Test;

class LibcTest {
    private static final MethodHandle CLOSE = Libc.downcall("close", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));

    @Test
    void aFailedCallReportsItsErrnoAndMessage() throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = Libc.callState(a);
            int r = (int) CLOSE.invokeExact(st, -1);
            assertEquals(-1, r);
            assertEquals(9, Libc.errno(st), "EBADF");
            IOException e = Libc.error("close -1", st);
            assertEquals("close -1 failed: Bad file descriptor (errno 9)", e.getMessage());
        }
        assertEquals("No such file or directory", Libc.strerror(2));
        assertThrows(UnsatisfiedLinkError.class, () -> Libc.downcall("no_such_function_in_libc", FunctionDescriptor.ofVoid()));
    }

    /**
     * Memory freed below the top of a C heap stays resident until trimmed: 160 MiB of 16 KiB blocks (below
     * glibc's mmap threshold, so from an arena), all freed but the last, which keeps the arena's top in use
     * so that free() cannot give anything back itself; the trim must.
     */
    @Test
    void trimmingTheNativeHeapGivesFreedMemoryBack() throws Throwable {
        Linker linker = Linker.nativeLinker();
        MethodHandle malloc = linker.downcallHandle(linker.defaultLookup().find("malloc").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
        MethodHandle free = linker.downcallHandle(linker.defaultLookup().find("free").orElseThrow(),
                FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
        int block = 16 << 10;
        MemorySegment[] blocks = new MemorySegment[10_240];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = ((MemorySegment) malloc.invokeExact((long) block)).reinterpret(block);
            assertTrue(blocks[i].address() != 0, "malloc failed");
            blocks[i].fill((byte) 1); // resident
        }
        for (int i = 0; i < blocks.length - 1; i++) {
            free.invokeExact(blocks[i]);
        }
        long before = ProcessStats.residentBytes();
        assertTrue(Libc.trimNativeHeap(), "glibc has malloc_trim");
        long after = ProcessStats.residentBytes();
        free.invokeExact(blocks[blocks.length - 1]);
        assertTrue(before - after > 100L << 20, "resident " + before + " -> " + after + " bytes");
    }
}
