package dev.strata.buffer;

import dev.strata.core.ByteSize;
import dev.strata.core.PageSize;

/**
 * Sizing of one buffer pool.
 *
 * @param poolBytes physical memory the pool may keep resident (the hot tier's capacity)
 * @param capacityBytes virtual page space: the largest page number is {@code capacityBytes / 4 KiB - 1}
 * @param evictionBatch pages evicted per eviction round (vmcache uses 64)
 */
public record BufferPoolConfig(long poolBytes, long capacityBytes, int evictionBatch) {
    public BufferPoolConfig {
        if (poolBytes < 16L * PageSize.MAX) {
            throw new IllegalArgumentException("pool must hold at least 16 pages of the largest size ("
                    + ByteSize.format(16L * PageSize.MAX) + "), got " + ByteSize.format(poolBytes));
        }
        if (capacityBytes < poolBytes) {
            throw new IllegalArgumentException("page space (" + ByteSize.format(capacityBytes)
                    + ") must be at least the pool size (" + ByteSize.format(poolBytes) + ")");
        }
        if (capacityBytes > (1L << 46)) {
            throw new IllegalArgumentException("page space above 64 TiB does not fit the address space: "
                    + ByteSize.format(capacityBytes));
        }
        if (poolBytes % PageSize.BASE != 0 || capacityBytes % PageSize.BASE != 0) {
            throw new IllegalArgumentException("pool and page space must be multiples of 4 KiB");
        }
        if (evictionBatch < 1 || evictionBatch > 4096) {
            throw new IllegalArgumentException("eviction batch must be in [1, 4096]: " + evictionBatch);
        }
    }

    public static BufferPoolConfig of(long poolBytes, long capacityBytes) {
        return new BufferPoolConfig(poolBytes, capacityBytes, 64);
    }

    public long capacityPages() {
        return capacityBytes / PageSize.BASE;
    }

    public long poolPages() {
        return poolBytes / PageSize.BASE;
    }
}
