/**
 * Side-by-side benchmark of memory nodes against Redis (4 KiB get/put at 1, 16, 64 in flight), of
 * the remote tier against the local-file tier under a buffer pool, and of transfer bytes/s against
 * the loopback and memcpy limits measured in the same run. Entry: {@link dev.strata.memory.bench.MemoryNodeBench}.
 */
package dev.strata.memory.bench;
