package dev.strata.storage;

import dev.strata.core.StrataException;

/** A replica append was not for the next LSN; the sender should re-send from {@link #expectedLsn()}. */
public class LsnGapException extends StrataException {
    private final long expectedLsn;
    private final long lsn;

    public LsnGapException(long expectedLsn, long lsn) {
        super("expected LSN " + expectedLsn + ", got " + lsn);
        this.expectedLsn = expectedLsn;
        this.lsn = lsn;
    }

    /** The only LSN the log would have accepted. */
    public long expectedLsn() {
        return expectedLsn;
    }

    /** The rejected LSN. */
    public long lsn() {
        return lsn;
    }
}
