package dev.strata.nbd;

import dev.strata.core.StrataException;

/** A failure with a precise NBD error number (EINVAL, ENOSPC, EPERM, EIO, ...) for the wire reply. */
public class NbdException extends StrataException {
    private final int errno;

    public NbdException(int errno, String message) {
        super(message);
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
