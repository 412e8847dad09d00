package dev.strata.migration;

import dev.strata.core.StrataException;

/** A migration that cannot go on: protocol error, version mismatch, or reconnects exhausted. */
public final class MigrationException extends StrataException {
    public MigrationException(String message) {
        super(message);
    }

    public MigrationException(String message, Throwable cause) {
        super(message, cause);
    }
}
