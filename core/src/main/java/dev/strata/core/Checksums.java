package dev.strata.core;

import java.lang.foreign.MemorySegment;
import java.util.zip.CRC32C;

/** CRC32C over heap arrays and native memory segments (hardware-accelerated by the JDK). */
public final class Checksums {
    private Checksums() {}

    public static int crc32c(MemorySegment segment) {
        CRC32C crc = new CRC32C();
        crc.update(segment.asByteBuffer());
        return (int) crc.getValue();
    }

    /** CRC32C of {@code first}'s bytes followed by {@code second}'s. */
    public static int crc32c(MemorySegment first, MemorySegment second) {
        CRC32C crc = new CRC32C();
        crc.update(first.asByteBuffer());
        crc.update(second.asByteBuffer());
        return (int) crc.getValue();
    }

    public static int crc32c(byte[] bytes, int offset, int length) {
        CRC32C crc = new CRC32C();
        crc.update(bytes, offset, length);
        return (int) crc.getValue();
    }
}
