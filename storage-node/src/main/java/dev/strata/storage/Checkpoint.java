package dev.strata.storage;

import dev.strata.core.Checksums;
import dev.strata.core.CorruptionException;
import dev.strata.storage.internal.NativeFile;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;

/**
 * The newest checkpoint of a partition: every record up to {@code lsn} is in the page file, written under
 * {@code epoch}, and {@code nextPageNo} is the allocator's next page. Stored in {@code dir/checkpoint}, replaced
 * atomically (write {@code checkpoint.tmp}, fsync, rename over, fsync the directory). File I/O goes through
 * {@link NativeFile}, so a checkpointing thread that is interrupted (say, by {@code shutdownNow()}) still finishes
 * the write it started.
 *
 * <pre>
 *  little endian, 36 bytes:
 *  +-----------+-------------+---------+-----------+----------------+-----------------------+
 *  | magic u32 | version u32 | lsn u64 | epoch u64 | nextPageNo u64 | CRC32C(bytes 0..32) u32 |
 *  +-----------+-------------+---------+-----------+----------------+-----------------------+
 *  0           4             8         16          24               32                      36
 * </pre>
 */
public record Checkpoint(long lsn, long epoch, long nextPageNo) {
    static final String FILE = "checkpoint";
    private static final String TMP = "checkpoint.tmp";
    private static final int MAGIC = 0x4b435453; // "STCK"
    private static final int VERSION = 1;
    private static final int LENGTH = 36;

    public Checkpoint {
        if (lsn < 0 || epoch < 0 || nextPageNo < 0) {
            throw new IllegalArgumentException("negative field in " + lsn + "/" + epoch + "/" + nextPageNo);
        }
    }

    /**
     * The checkpoint in {@code dir}, empty if none was ever written.
     *
     * @throws CorruptionException if the file has the wrong size, magic, version or CRC
     */
    public static Optional<Checkpoint> read(Path dir) throws IOException {
        byte[] bytes;
        try (NativeFile file = NativeFile.openRead(dir.resolve(FILE))) {
            long size = file.size();
            if (size != LENGTH) {
                throw new CorruptionException("checkpoint in " + dir + " has " + size + " bytes, not " + LENGTH);
            }
            bytes = new byte[LENGTH];
            file.readFully(0, MemorySegment.ofArray(bytes));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (buf.getInt(32) != Checksums.crc32c(bytes, 0, 32)) {
            throw new CorruptionException("checkpoint in " + dir + " fails its CRC32C");
        }
        if (buf.getInt(0) != MAGIC || buf.getInt(4) != VERSION) {
            throw new CorruptionException("checkpoint in " + dir + " has a bad magic or version");
        }
        long lsn = buf.getLong(8);
        long epoch = buf.getLong(16);
        long nextPageNo = buf.getLong(24);
        if (lsn < 0 || epoch < 0 || nextPageNo < 0) {
            throw new CorruptionException("checkpoint in " + dir + " has a negative field");
        }
        return Optional.of(new Checkpoint(lsn, epoch, nextPageNo));
    }

    /** Replaces the checkpoint in {@code dir} (created if absent) atomically and durably. */
    public void write(Path dir) throws IOException {
        Files.createDirectories(dir);
        ByteBuffer buf = ByteBuffer.allocate(LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        buf.putInt(0, MAGIC).putInt(4, VERSION).putLong(8, lsn).putLong(16, epoch).putLong(24, nextPageNo);
        buf.putInt(32, Checksums.crc32c(buf.array(), 0, 32));
        Path tmp = dir.resolve(TMP);
        try (NativeFile file = NativeFile.createTruncate(tmp)) {
            file.write(0, MemorySegment.ofArray(buf.array()));
            file.fsync();
        }
        Files.move(tmp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        NativeFile.fsyncDirectory(dir);
    }
}
