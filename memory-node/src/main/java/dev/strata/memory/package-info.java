/**
 * Memory nodes (DESIGN §6): the {@link dev.strata.memory.MemoryNode} server holding page frames and
 * registered regions off-heap, its entry point {@link dev.strata.memory.MemoryNodeMain}, the
 * {@link dev.strata.memory.MemoryNodeClient} (Netty TCP or in-process), the k-way
 * {@link dev.strata.memory.ReplicatedPageMemory}, and {@link dev.strata.memory.RemoteTier}, the
 * buffer manager's {@code PageSource} that puts memory nodes in front of a lower tier.
 */
package dev.strata.memory;
