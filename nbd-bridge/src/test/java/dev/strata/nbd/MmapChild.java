package dev.strata.nbd;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Runs in a separate JVM (DESIGN §8): maps a file (the nbdfuse file of an export served by another
 * JVM), writes a pattern through the mapping, msyncs (force), reads it back through the mapping and
 * exits 0 on success. Args: file offset length seed.
 */
public final class MmapChild {
    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        long offset = Long.parseLong(args[1]);
        long length = Long.parseLong(args[2]);
        byte seed = Byte.parseByte(args[3]);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
             Arena arena = Arena.ofConfined()) {
            MemorySegment m = ch.map(FileChannel.MapMode.READ_WRITE, offset, length, arena);
            for (long i = 0; i < length; i++) {
                m.set(ValueLayout.JAVA_BYTE, i, (byte) (seed + i * 31));
            }
            m.force(); // msync: dirty pages go through FUSE to the NBD server
            for (long i = 0; i < length; i++) {
                if (m.get(ValueLayout.JAVA_BYTE, i) != (byte) (seed + i * 31)) {
                    System.err.println("mismatch at " + i);
                    System.exit(3);
                }
            }
        }
        System.out.println("mmap-ok");
    }
}
