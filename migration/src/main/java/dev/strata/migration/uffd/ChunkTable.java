package dev.strata.migration.uffd;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The helper's record of which chunks (64 KiB) of the mapping hold data, and the residency cap it
 * enforces. Each chunk moves through
 *
 * <pre>
 *            claim (reserves room under the cap, evicting first)
 *   ABSENT -------------------------------------------------> FILLING
 *     ^  ^                                                     |   ^
 *     |  +------------- abort (punch, then ABSENT) -------------+   | reclaim (a PRESENT chunk
 *     |                                                        |   | found not resident)
 *     +---- evict (punch the hole, then ABSENT) ---- PRESENT <-+---+
 *                                                         complete
 * </pre>
 *
 * A chunk counts against the cap from its claim until its eviction has freed it, so the memory the
 * chunks can hold never exceeds the cap, including windows still being copied in: eviction happens
 * before a claim, never after a copy. Eviction is FIFO over completed fills. Only one filler owns a
 * FILLING chunk; the copy itself runs outside the lock.
 *
 * <p>Thread-safe: every transition happens under one lock.
 */
final class ChunkTable {
    static final byte ABSENT = 0;
    static final byte FILLING = 1;
    static final byte PRESENT = 2;

    /** Frees chunks {@code [first, first + count)} of the mapping (the helper punches a hole in the memory file). */
    interface Punch {
        void punch(int first, int count) throws IOException;
    }

    /** Whether a chunk the table holds PRESENT is still in memory (something else may have freed it). */
    interface Residency {
        boolean resident(int chunk) throws IOException;
    }

    private final byte[] state;
    private final long capChunks;
    private final Punch punch;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<int[]> fifo = new ArrayDeque<>(); // completed runs {first, count}, oldest first
    private long counted; // chunks not ABSENT
    private long peak;
    private long evicted;

    /** {@code capChunks}: chunks allowed to be counted at once ({@code Long.MAX_VALUE}: no cap, no eviction). */
    ChunkTable(int chunks, long capChunks, Punch punch) {
        if (capChunks < 1) {
            throw new IllegalArgumentException("cap below one chunk");
        }
        this.state = new byte[chunks];
        this.capChunks = capChunks;
        this.punch = punch;
    }

    int chunks() {
        return state.length;
    }

    byte state(int chunk) {
        lock.lock();
        try {
            return state[chunk];
        } finally {
            lock.unlock();
        }
    }

    /**
     * Claims the run of ABSENT chunks starting at {@code first} (at most {@code max}, stopping before
     * the first chunk that is not ABSENT), after evicting the oldest PRESENT runs so that the claimed
     * chunks fit under the cap; waits while the chunks counted are all in flight. Returns how many
     * chunks were claimed (FILLING, owned by the caller): 0 if {@code first} is not ABSENT.
     */
    int claim(int first, int max) throws IOException, InterruptedException {
        lock.lock();
        try {
            while (true) {
                int n = 0;
                while (n < max && first + n < state.length && state[first + n] == ABSENT) {
                    n++;
                }
                if (n == 0) {
                    return 0;
                }
                if (capChunks != Long.MAX_VALUE) {
                    n = (int) Math.min(n, capChunks);
                    while (counted + n > capChunks && evictOldest()) {
                        // evicted one run; loop re-checks room
                    }
                    if (counted + n > capChunks) {
                        // everything counted is being filled: wait for a fill to complete, then retry
                        // (our run may have been claimed meanwhile)
                        changed.await(100, TimeUnit.MILLISECONDS);
                        continue;
                    }
                }
                for (int c = first; c < first + n; c++) {
                    state[c] = FILLING;
                }
                counted += n;
                peak = Math.max(peak, counted);
                return n;
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * A chunk faulted although the table holds it PRESENT: if it is no longer resident (freed by
     * someone else), it becomes FILLING for the caller to fill again (still counted) and this returns
     * true; otherwise the fault was stale and this returns false.
     */
    boolean reclaimIfMissing(int chunk, Residency residency) throws IOException {
        lock.lock();
        try {
            if (state[chunk] != PRESENT || residency.resident(chunk)) {
                return false;
            }
            state[chunk] = FILLING;
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** FILLING to PRESENT for a run the caller filled; it becomes evictable, newest. */
    void complete(int first, int count) {
        lock.lock();
        try {
            for (int c = first; c < first + count; c++) {
                assert state[c] == FILLING;
                state[c] = PRESENT;
            }
            if (capChunks != Long.MAX_VALUE) {
                fifo.addLast(new int[] {first, count});
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * FILLING to ABSENT for a run the caller could not fill; whatever of it was copied in is punched
     * first, so it stops counting only once freed.
     */
    void abort(int first, int count) throws IOException {
        lock.lock();
        try {
            punch.punch(first, count);
            for (int c = first; c < first + count; c++) {
                state[c] = ABSENT;
            }
            counted -= count;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Evicts the PRESENT chunks of a range now (a caller's request); chunks being filled stay. */
    void evict(int first, int count) throws IOException {
        lock.lock();
        try {
            evictPresent(first, Math.min(count, state.length - first));
        } finally {
            lock.unlock();
        }
    }

    /** Evicts the oldest completed run still PRESENT; false if there is none. Lock held. */
    private boolean evictOldest() throws IOException {
        int[] run;
        while ((run = fifo.pollFirst()) != null) {
            if (evictPresent(run[0], run[1]) > 0) {
                return true;
            }
        }
        return false;
    }

    /** Punches the PRESENT sub-runs of a range and marks them ABSENT; returns chunks freed. Lock held. */
    private int evictPresent(int first, int count) throws IOException {
        int freed = 0;
        int c = first;
        while (c < first + count) {
            if (state[c] != PRESENT) {
                c++;
                continue;
            }
            int start = c;
            while (c < first + count && state[c] == PRESENT) {
                c++;
            }
            punch.punch(start, c - start); // memory freed before the chunks stop counting
            for (int i = start; i < c; i++) {
                state[i] = ABSENT;
            }
            counted -= c - start;
            freed += c - start;
        }
        evicted += freed;
        return freed;
    }

    /** Chunks counted now (claimed, present or being evicted). */
    long counted() {
        lock.lock();
        try {
            return counted;
        } finally {
            lock.unlock();
        }
    }

    /** The most chunks ever counted at once. */
    long peak() {
        lock.lock();
        try {
            return peak;
        } finally {
            lock.unlock();
        }
    }

    long evicted() {
        lock.lock();
        try {
            return evicted;
        } finally {
            lock.unlock();
        }
    }
}
