package dev.strata.core;

/**
 * Root of Strata's unchecked exceptions: bugs, misuse and unrecoverable faults. Expected outcomes
 * (not found, retry, wrong owner) are values, never exceptions.
 */
public class StrataException extends RuntimeException {
    public StrataException(String message) {
        super(message);
    }

    public StrataException(String message, Throwable cause) {
        super(message, cause);
    }
}
