package dev.strata.storage;

import dev.strata.core.StrataException;

/** An append carried an epoch lower than the highest this log has accepted: the sender is a deposed owner. */
public class StaleEpochException extends StrataException {
    private final long epoch;
    private final long highestEpoch;

    public StaleEpochException(long epoch, long highestEpoch) {
        super("stale epoch " + epoch + " < highest epoch " + highestEpoch);
        this.epoch = epoch;
        this.highestEpoch = highestEpoch;
    }

    /** The rejected epoch. */
    public long epoch() {
        return epoch;
    }

    /** The highest epoch the log had accepted when it rejected the append. */
    public long highestEpoch() {
        return highestEpoch;
    }
}
