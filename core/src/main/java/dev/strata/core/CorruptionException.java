package dev.strata.core;

/** Stored bytes failed a checksum or framing check where a torn tail is not an acceptable explanation. */
public class CorruptionException extends StrataException {
    public CorruptionException(String message) {
        super(message);
    }
}
