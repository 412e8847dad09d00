package dev.strata.migration.internal;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The seeder's dirty tracking with generations. A global generation {@code G} is incremented each
 * time the sender reads a chunk to send it; {@code sent[c]} remembers that value. A writer stamps
 * every chunk it touched with {@code G} read <em>after</em> its data copy:
 *
 * <pre>
 *   writer:  copy bytes into c ; dirty[c] = max(dirty[c], G)
 *   sender:  g = ++G ; read c ; send (c, g) ; sent[c] = g
 *   stale(c) ⇔ dirty[c] ≥ sent[c]
 * </pre>
 * If the writer's stamp is below g it read G before the increment, so its copy finished before
 * the sender's read and the leecher got the bytes; otherwise the chunk is stale and goes again.
 * A chunk with {@code sent[c] == 0} was never sent (the leecher has no copy at all).
 *
 * <p>Concurrency: {@link #markWritten} from any thread; everything else from the one sender thread
 * of the active session (sessions are sequential).
 */
public final class DirtyMap {
    private final long size;
    private final int chunkSize;
    private final int chunks;
    private final AtomicLongArray dirty;
    private final long[] sent;
    private final AtomicLong gen = new AtomicLong(1);
    private final java.util.concurrent.atomic.LongAdder dirtyings = new java.util.concurrent.atomic.LongAdder();

    public DirtyMap(long size, int chunkSize) {
        long n = (size + chunkSize - 1) / chunkSize;
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("too many chunks: " + n);
        }
        this.size = size;
        this.chunkSize = chunkSize;
        this.chunks = (int) n;
        this.dirty = new AtomicLongArray(chunks);
        this.sent = new long[chunks];
    }

    public int chunks() {
        return chunks;
    }

    public int chunkSize() {
        return chunkSize;
    }

    /** Length of chunk {@code c} (the last one may be short). */
    public int length(int c) {
        return (int) Math.min(chunkSize, size - (long) c * chunkSize);
    }

    /** Called after the bytes of {@code [offset, offset+length)} were stored. */
    public void markWritten(long offset, long length) {
        if (length <= 0) {
            return;
        }
        long g = gen.get();
        int first = (int) (offset / chunkSize);
        int last = (int) ((offset + length - 1) / chunkSize);
        for (int c = first; c <= last; c++) {
            if (dirty.get(c) < g) {
                dirty.accumulateAndGet(c, g, Math::max);
                dirtyings.increment();
            }
        }
    }

    /**
     * Chunk writes that raised a chunk's stamp so far: an upper bound of the chunks dirtied, since
     * generations move with every chunk sent. The dirty-rate estimate is its derivative.
     */
    public long dirtyings() {
        return dirtyings.sum();
    }

    /** The generation of a read that is about to happen (sender only). */
    public long nextReadGen() {
        return gen.incrementAndGet();
    }

    public void sent(int c, long g) {
        sent[c] = g;
    }

    public boolean stale(int c) {
        return dirty.get(c) >= sent[c];
    }

    /** True if the leecher may hold some copy of {@code c}. */
    public boolean everSent(int c) {
        return sent[c] != 0;
    }

    /** A new migration: the leecher has nothing. */
    public void resetAll() {
        java.util.Arrays.fill(sent, 0);
    }

    /**
     * A resumed migration whose leecher received every send up to generation {@code lastReceived}:
     * a later send may have been lost, and the leecher may still hold an older copy, so such chunks
     * are marked "some copy, as of generation 1" (stale iff written at all during the migration).
     * Returns how many were reset.
     */
    public int resumeFrom(long lastReceived) {
        int n = 0;
        for (int c = 0; c < chunks; c++) {
            if (sent[c] > lastReceived) {
                sent[c] = 1;
                n++;
            }
        }
        return n;
    }

    /** {staleSent, unsent}: stale chunks the leecher holds an old copy of, chunks never sent. */
    public long[] count() {
        long stale = 0;
        long unsent = 0;
        for (int c = 0; c < chunks; c++) {
            if (sent[c] == 0) {
                unsent++;
            } else if (dirty.get(c) >= sent[c]) {
                stale++;
            }
        }
        return new long[] {stale, unsent};
    }
}
