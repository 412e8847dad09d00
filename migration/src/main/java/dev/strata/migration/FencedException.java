package dev.strata.migration;

import java.io.IOException;

/**
 * An access to a seeder's backend after it handed the region over: its epoch was fenced by a
 * finalize, and the region now belongs to the leecher at {@link #epoch()}.
 */
public final class FencedException extends IOException {
    private final long epoch;

    public FencedException(long epoch) {
        super("STALE_EPOCH: this seeder was fenced; the region moved to epoch " + epoch);
        this.epoch = epoch;
    }

    /** The epoch now owning the region. */
    public long epoch() {
        return epoch;
    }
}
