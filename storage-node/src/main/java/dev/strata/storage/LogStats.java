package dev.strata.storage;

/**
 * A snapshot of a {@link PartitionLog}'s counters.
 *
 * @param appendedLsn      highest LSN assigned
 * @param durableLsn       highest LSN fsynced
 * @param fsyncs           data fsyncs issued by the writer since open (one per group, one more per segment roll)
 * @param bytesWritten     frame bytes written since open
 * @param segments         segment files currently present
 * @param groups           groups committed since open
 * @param averageGroupSize records per group since open (0 if none)
 */
public record LogStats(
        long appendedLsn,
        long durableLsn,
        long fsyncs,
        long bytesWritten,
        int segments,
        long groups,
        double averageGroupSize) {}
