package dev.strata.memory;

/**
 * Counters of one memory node since start.
 *
 * @param pages page frames held
 * @param usedBytes bytes charged to the capacity bound (frames and regions)
 * @param capacityBytes the bound
 * @param gets page reads; {@code hits} of them found the page
 * @param puts page writes accepted
 * @param full writes refused with FULL
 * @param staleEpoch writes refused by epoch fencing
 * @param staleLsn writes ignored because a newer copy was held
 * @param corrupt writes refused because their bytes failed CRC32C on arrival
 * @param badFrames requests answered with a protocol error (bad length, opcode, range)
 * @param bytesIn payload bytes received
 * @param bytesOut payload bytes sent
 */
public record MemoryNodeStats(long pages, long usedBytes, long capacityBytes, long gets, long hits, long puts,
        long full, long staleEpoch, long staleLsn, long corrupt, long badFrames, long bytesIn, long bytesOut) {}
