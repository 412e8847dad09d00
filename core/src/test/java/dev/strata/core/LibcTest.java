package dev.strata.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
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
}
