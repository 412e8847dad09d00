package dev.strata.migration;

import dev.strata.core.ByteSize;
import java.time.Duration;

/**
 * What a finished migration did, as seen by the leecher.
 *
 * @param size            region size
 * @param bytesMoved      chunk bytes received (all rounds, final set, post-copy)
 * @param chunksMoved     chunks received
 * @param rounds          pre-copy rounds completed (round 0 is the full pull)
 * @param finalChunks     chunks in the final dirty set(s) (sent while writes were suspended)
 * @param postCopyChunks  chunks still missing when the leecher started serving
 * @param seederSuspended seeder-measured suspend → FINAL_END sent
 * @param downtime        suspend → leecher serving: seeder-measured part plus half the handshake RTT
 * @param finalizeWait    leecher-measured FINALIZE sent → serving (an upper bound of the downtime)
 * @param total           connect → serving
 * @param reconnects      connections re-established after a cut
 * @param epoch           the epoch the leecher serves at
 * @param converged       false if finalize happened because rounds ran out (or on demand) rather than fitting maxDowntime
 */
public record MigrationReport(long size, long bytesMoved, long chunksMoved, int rounds, long finalChunks,
                              long postCopyChunks, Duration seederSuspended, Duration downtime, Duration finalizeWait,
                              Duration total, int reconnects, long epoch, boolean converged) {
    @Override
    public String toString() {
        return String.format("migrated %s: moved %s in %d chunks, %d rounds, final set %d chunks, post-copy %d, "
                        + "downtime %.2f ms (seeder suspend %.2f ms, leecher wait %.2f ms), total %.2f s, "
                        + "reconnects %d, epoch %d%s",
                ByteSize.format(size), ByteSize.format(bytesMoved), chunksMoved, rounds, finalChunks, postCopyChunks,
                ms(downtime), ms(seederSuspended), ms(finalizeWait), total.toNanos() / 1e9, reconnects, epoch,
                converged ? "" : " (finalized before converging)");
    }

    private static double ms(Duration d) {
        return d.toNanos() / 1e6;
    }
}
