package dev.strata.migration.internal;

import java.io.IOException;

/** A peer broke the protocol (bad length, unknown type, out-of-range index); the connection is closed. */
public final class ProtocolException extends IOException {
    private final int code;

    public ProtocolException(int code, String message) {
        super(message);
        this.code = code;
    }

    /** The {@link Wire} error code to send the peer, or received from it. */
    public int code() {
        return code;
    }
}
