package dev.strata.compute;

import dev.strata.core.StrataException;

/** An operation reached a store that is closed, or that a failed log write has put out of service. */
public class PageStoreClosedException extends StrataException {
    public PageStoreClosedException(String message) {
        super(message);
    }

    public PageStoreClosedException(String message, Throwable cause) {
        super(message, cause);
    }
}
