package dev.strata.migration;

import java.io.IOException;

/**
 * Named fault points for tests (DESIGN §11). The seeder calls {@link #at} at
 * {@code "finalize.suspended"} (writes drained, nothing of the final set sent) and
 * {@code "finalize.fenced"} (final set sent, epoch fenced, FINAL_END not yet sent); an
 * {@link IOException} thrown there acts as a cut connection.
 */
@FunctionalInterface
public interface FaultHook {
    FaultHook NONE = point -> {};

    void at(String point) throws IOException;
}
