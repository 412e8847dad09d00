package dev.strata.storage;

import dev.strata.core.PageSize;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * One page to write to a {@link PageFile}: its number, size class, the LSN of the newest change it holds, and its
 * bytes ({@code 4 KiB << sizeClass} of them).
 */
public record PageImage(long pageNo, int sizeClass, long lsn, MemorySegment bytes) {
    public PageImage {
        PageFile.checkPageNo(pageNo);
        PageSize.checkClass(sizeClass);
        Objects.requireNonNull(bytes, "bytes");
        if (bytes.byteSize() != PageSize.bytes(sizeClass)) {
            throw new IllegalArgumentException("page " + pageNo + " of class " + sizeClass + " needs "
                    + PageSize.bytes(sizeClass) + " bytes, got " + bytes.byteSize());
        }
        if (lsn < 0) {
            throw new IllegalArgumentException("negative lsn " + lsn);
        }
    }
}
