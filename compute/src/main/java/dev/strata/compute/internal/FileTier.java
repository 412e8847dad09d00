package dev.strata.compute.internal;

import dev.strata.buffer.PageSource;
import dev.strata.buffer.PageWrite;
import dev.strata.storage.PageFile;
import dev.strata.storage.PageImage;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/** The embedded default tier under the buffer pool: a local {@link PageFile}. Thread-safe. */
public final class FileTier implements PageSource {
    private final PageFile file;

    public FileTier(PageFile file) {
        this.file = file;
    }

    @Override
    public long read(long pageNo, int sizeClass, MemorySegment dst) throws IOException {
        return file.read(pageNo, dst);
    }

    @Override
    public void prefetch(long pageNo, int sizeClass) {
        file.willNeed(pageNo);
    }

    @Override
    public void write(List<PageWrite> pages) throws IOException {
        List<PageImage> images = new ArrayList<>(pages.size());
        for (PageWrite w : pages) {
            images.add(new PageImage(w.pageNo(), w.sizeClass(), w.lsn(), w.bytes()));
        }
        file.writeDeferred(images); // durable at the next sync: a checkpoint's, or the file's own every 32 MiB
    }

    @Override
    public void sync() throws IOException {
        file.sync();
    }
}
