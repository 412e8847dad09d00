package dev.strata.memory;

import dev.strata.core.remote.RemoteStatus;

/**
 * Answer to a page read: {@link RemoteStatus#OK} with the page's LSN (the bytes are in the caller's
 * segment, CRC32C-verified), {@link RemoteStatus#NOT_FOUND}, or {@link RemoteStatus#CORRUPT} when the
 * transferred bytes failed their checksum (the caller's segment then holds garbage).
 */
public record PageRead(RemoteStatus status, long lsn) {
    public static final PageRead NOT_FOUND = new PageRead(RemoteStatus.NOT_FOUND, 0);
    public static final PageRead CORRUPT = new PageRead(RemoteStatus.CORRUPT, 0);

    public boolean found() {
        return status == RemoteStatus.OK;
    }
}
