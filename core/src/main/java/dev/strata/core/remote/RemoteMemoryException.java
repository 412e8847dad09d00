package dev.strata.core.remote;

import dev.strata.core.StrataException;

/** A remote operation failed; {@link #status()} is the precise wire or transport error. */
public class RemoteMemoryException extends StrataException {
    private final RemoteStatus status;

    public RemoteMemoryException(RemoteStatus status, String message) {
        super(status + ": " + message);
        this.status = status;
    }

    public RemoteMemoryException(RemoteStatus status, String message, Throwable cause) {
        super(status + ": " + message, cause);
        this.status = status;
    }

    public RemoteStatus status() {
        return status;
    }

    /** The status behind a failed future's exception, {@link RemoteStatus#INTERNAL} for anything else. */
    public static RemoteStatus statusOf(Throwable t) {
        Throwable c = t;
        while (c != null) {
            if (c instanceof RemoteMemoryException r) {
                return r.status;
            }
            c = c.getCause();
        }
        return RemoteStatus.INTERNAL;
    }
}
