package dev.strata.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.strata.core.CorruptionException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(30)
class CheckpointTest {
    @TempDir
    Path dir;

    @Test
    void absentCheckpointReadsEmpty() throws IOException {
        assertEquals(Optional.empty(), Checkpoint.read(dir));
    }

    @Test
    void roundTripsAndReplaces() throws IOException {
        new Checkpoint(10, 2, 300).write(dir);
        assertEquals(Optional.of(new Checkpoint(10, 2, 300)), Checkpoint.read(dir));
        new Checkpoint(Long.MAX_VALUE, 3, 400).write(dir);
        assertEquals(Optional.of(new Checkpoint(Long.MAX_VALUE, 3, 400)), Checkpoint.read(dir));
        assertFalse(Files.exists(dir.resolve("checkpoint.tmp")));
    }

    @Test
    void detectsCorruption() throws IOException {
        new Checkpoint(10, 2, 300).write(dir);
        Path file = dir.resolve(Checkpoint.FILE);
        byte[] bytes = Files.readAllBytes(file);
        bytes[9] ^= 1;
        Files.write(file, bytes);
        assertThrows(CorruptionException.class, () -> Checkpoint.read(dir));
    }

    @Test
    void detectsATruncatedFile() throws IOException {
        new Checkpoint(10, 2, 300).write(dir);
        Path file = dir.resolve(Checkpoint.FILE);
        Files.write(file, new byte[7]);
        assertThrows(CorruptionException.class, () -> Checkpoint.read(dir));
    }

    @Test
    void rejectsNegativeFields() {
        assertThrows(IllegalArgumentException.class, () -> new Checkpoint(-1, 0, 0));
    }
}
