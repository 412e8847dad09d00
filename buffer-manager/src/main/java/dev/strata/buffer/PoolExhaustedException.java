package dev.strata.buffer;

import dev.strata.core.StrataException;

/** Every resident page is latched or pinned by uncommitted work, so a miss cannot be served. */
public class PoolExhaustedException extends StrataException {
    public PoolExhaustedException(String message) {
        super(message);
    }
}
