package dev.strata.migration;

import dev.strata.nbd.Backend;
import java.io.IOException;

/**
 * Called by the seeder once application writes are suspended and drained, before the last dirty
 * set is computed: the application flushes whatever it still holds (an {@code msync} of a mapping,
 * a write-back cache) into {@code flushTarget}, which bypasses the suspension but is still
 * tracked, so those bytes are part of the final set.
 */
@FunctionalInterface
public interface SuspendHook {
    SuspendHook NONE = flushTarget -> {};

    void suspended(Backend flushTarget) throws IOException;
}
