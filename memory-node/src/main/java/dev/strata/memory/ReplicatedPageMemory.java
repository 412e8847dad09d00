package dev.strata.memory;

import dev.strata.core.PageId;
import dev.strata.core.remote.RemoteMemoryException;
import dev.strata.core.remote.RemoteStatus;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.logging.Logger;

/**
 * Pages replicated on {@code k} memory nodes (DESIGN §6). A page's replicas are the top {@code k}
 * nodes by rendezvous hash of its {@code PageId}, a fixed set per page.
 *
 * <ul>
 * <li><b>Writes</b> go to all {@code k} replicas at once; the write is {@code OK} when at least one
 *     replica stored it. A replica that did not (down, timed out, FULL) is remembered as having
 *     <em>missed</em> the page, and no read is served from it until a later write of the page reaches
 *     it, so a node that was away never answers with a stale copy.
 * <li><b>Reads</b> go to the least-loaded eligible replica (reachable, not missed, fewest requests in
 *     flight) and fall back to the next on a transport failure, a timeout, a checksum failure or
 *     {@code NOT_FOUND}; a replica that answered {@code NOT_FOUND} while another had the page (it
 *     came back empty) is refilled with that copy.
 * </ul>
 *
 * <p>{@link #repair} copies the pages a replica missed from another replica once it is reachable
 * again. Limits: replica sets do not move while a node is down (no re-replication to a third node);
 * a replica that missed more than {@value #MISSED_LIMIT} pages is no longer read from at all.
 * Thread-safe; completions may run on I/O threads.
 */
public final class ReplicatedPageMemory implements PageMemory {
    private static final Logger LOG = Logger.getLogger(ReplicatedPageMemory.class.getName());
    static final int MISSED_LIMIT = 1 << 20;

    private final List<MemoryNodeClient> nodes;
    private final long[] salts;
    private final int replicas;
    private final boolean ownsNodes;
    /** Per node: pages whose write did not reach it → (highest missed LSN << 3 | size class). */
    private final List<ConcurrentHashMap<Long, Long>> missed = new ArrayList<>();
    private final boolean[] distrusted;
    private final ConcurrentHashMap<Integer, Long> epochs = new ConcurrentHashMap<>();
    private final LongAdder fallbacks = new LongAdder();
    private final LongAdder refills = new LongAdder();
    private final LongAdder missedWrites = new LongAdder();

    /**
     * @param nodes one client per memory node
     * @param replicas copies per page, at most {@code nodes.size()}
     * @param ownsNodes whether {@link #close} closes the clients
     */
    public ReplicatedPageMemory(List<MemoryNodeClient> nodes, int replicas, boolean ownsNodes) {
        if (nodes.isEmpty() || replicas < 1 || replicas > nodes.size()) {
            throw new IllegalArgumentException("need 1 <= replicas (" + replicas + ") <= nodes (" + nodes.size() + ")");
        }
        this.nodes = List.copyOf(nodes);
        this.replicas = replicas;
        this.ownsNodes = ownsNodes;
        this.salts = new long[nodes.size()];
        this.distrusted = new boolean[nodes.size()];
        for (int i = 0; i < salts.length; i++) {
            salts[i] = mix(nodes.get(i).address().hashCode() * 0x9E3779B97F4A7C15L + i);
            missed.add(new ConcurrentHashMap<>());
        }
    }

    /** Connects to every node over TCP and replicates on {@code replicas} of them; closing closes the clients. */
    public static ReplicatedPageMemory connect(List<InetSocketAddress> addresses, int replicas, ClientOptions options) {
        List<MemoryNodeClient> clients = new ArrayList<>();
        for (InetSocketAddress a : addresses) {
            clients.add(MemoryNodeClient.connect(a, options));
        }
        return new ReplicatedPageMemory(clients, replicas, true);
    }

    public int replicas() {
        return replicas;
    }

    public List<MemoryNodeClient> nodes() {
        return nodes;
    }

    /** Reads that fell back to another replica, refills of empty replicas, replica writes that missed. */
    public long fallbacks() { return fallbacks.sum(); }
    public long refills() { return refills.sum(); }
    public long missedWrites() { return missedWrites.sum(); }

    /** Indexes of the page's replicas, in rendezvous order. */
    int[] replicasOf(long pageId) {
        int n = nodes.size();
        int[] best = new int[replicas];
        long[] score = new long[replicas];
        int filled = 0;
        for (int i = 0; i < n; i++) {
            long s = mix(pageId ^ salts[i]);
            int pos = filled;
            while (pos > 0 && Long.compareUnsigned(score[pos - 1], s) < 0) {
                pos--;
            }
            if (pos < replicas) {
                int end = Math.min(filled, replicas - 1);
                System.arraycopy(score, pos, score, pos + 1, end - pos);
                System.arraycopy(best, pos, best, pos + 1, end - pos);
                score[pos] = s;
                best[pos] = i;
                filled = Math.min(filled + 1, replicas);
            }
        }
        return best;
    }

    private boolean eligible(int node, long pageId) {
        return !distrusted[node] && !missed.get(node).containsKey(pageId);
    }

    @Override
    public CompletableFuture<PageRead> get(long pageId, int sizeClass, MemorySegment dst) {
        int[] reps = replicasOf(pageId);
        // order: reachable before unreachable, then fewest in flight; ineligible replicas are dropped
        int count = 0;
        int[] order = new int[reps.length];
        for (int r : reps) {
            if (eligible(r, pageId)) {
                order[count++] = r;
            }
        }
        for (int i = 1; i < count; i++) {
            int x = order[i];
            int j = i;
            while (j > 0 && less(x, order[j - 1])) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = x;
        }
        CompletableFuture<PageRead> result = new CompletableFuture<>();
        attempt(pageId, sizeClass, dst, order, count, 0, 0, result);
        return result;
    }

    private boolean less(int a, int b) {
        MemoryNodeClient na = nodes.get(a), nb = nodes.get(b);
        boolean ua = na.isAvailable(), ub = nb.isAvailable();
        if (ua != ub) {
            return ua;
        }
        return na.inFlight() < nb.inFlight();
    }

    /** Tries {@code order[i..count)}; {@code emptyMask} collects replicas that answered NOT_FOUND. */
    private void attempt(long pageId, int sc, MemorySegment dst, int[] order, int count, int i, int emptyMask,
            CompletableFuture<PageRead> result) {
        if (i == count) {
            result.complete(PageRead.NOT_FOUND);
            return;
        }
        if (i > 0) {
            fallbacks.increment();
        }
        int node = order[i];
        CompletableFuture<PageRead> f;
        try {
            f = nodes.get(node).get(pageId, sc, dst);
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        f.whenComplete((r, ex) -> {
            if (ex == null && r.found()) {
                if (emptyMask != 0) {
                    refill(pageId, r.lsn(), dst, emptyMask);
                }
                result.complete(r);
            } else {
                int mask = ex == null && r.status() == RemoteStatus.NOT_FOUND ? emptyMask | (1 << node) : emptyMask;
                attempt(pageId, sc, dst, order, count, i + 1, mask, result);
            }
        });
    }

    private void refill(long pageId, long lsn, MemorySegment page, int mask) {
        Long epoch = epochs.get(PageId.partition(pageId));
        if (epoch == null) {
            return;
        }
        for (int n = 0; n < nodes.size() && n < 31; n++) {
            if ((mask & (1 << n)) != 0) {
                refills.increment();
                try {
                    nodes.get(n).put(pageId, epoch, lsn, page);
                } catch (RuntimeException e) {
                    // best effort
                }
            }
        }
    }

    @Override
    public CompletableFuture<RemoteStatus> put(long pageId, long epoch, long lsn, MemorySegment src) {
        epochs.merge(PageId.partition(pageId), epoch, Math::max);
        int[] reps = replicasOf(pageId);
        @SuppressWarnings({"unchecked", "rawtypes"})
        CompletableFuture<RemoteStatus>[] sent = new CompletableFuture[reps.length];
        for (int i = 0; i < reps.length; i++) {
            int node = reps[i];
            CompletableFuture<RemoteStatus> f;
            try {
                f = nodes.get(node).put(pageId, epoch, lsn, src);
            } catch (RuntimeException e) {
                f = CompletableFuture.failedFuture(e);
            }
            int sc = dev.strata.core.PageSize.classOf((int) src.byteSize());
            sent[i] = f.whenComplete((s, ex) -> track(node, pageId, lsn, sc, ex == null ? s : null));
        }
        CompletableFuture<RemoteStatus> result = new CompletableFuture<>();
        AtomicInteger left = new AtomicInteger(sent.length);
        for (CompletableFuture<RemoteStatus> f : sent) {
            f.whenComplete((s, ex) -> {
                if (left.decrementAndGet() == 0) {
                    result.complete(combine(sent));
                }
            });
        }
        return result.thenCompose(s -> s == null
                ? CompletableFuture.failedFuture(new RemoteMemoryException(RemoteStatus.UNAVAILABLE,
                        "no replica of " + PageId.toString(pageId) + " reachable"))
                : CompletableFuture.completedFuture(s));
    }

    /**
     * Records the outcome of a write of {@code lsn} to a replica: a stored write clears a missed
     * mark only if no later write of the page missed (a missed mark names the newest LSN it lacks).
     */
    private void track(int node, long pageId, long lsn, int sizeClass, RemoteStatus s) {
        if (s == RemoteStatus.OK || s == RemoteStatus.STALE_LSN) {
            missed.get(node).computeIfPresent(pageId, (k, v) -> (v >>> 3) <= lsn ? null : v);
            return;
        }
        if (s == RemoteStatus.STALE_EPOCH) {
            return;
        }
        missedWrites.increment();
        ConcurrentHashMap<Long, Long> m = missed.get(node);
        m.merge(pageId, (lsn << 3) | sizeClass, (a, b) -> (a >>> 3) >= (b >>> 3) ? a : b);
        if (m.size() > MISSED_LIMIT && !distrusted[node]) {
            distrusted[node] = true;
            LOG.warning("memory node " + nodes.get(node).address() + " missed over " + MISSED_LIMIT
                    + " page writes; no longer read from");
        }
    }

    private static RemoteStatus combine(CompletableFuture<RemoteStatus>[] sent) {
        boolean stored = false, full = false, corrupt = false;
        for (CompletableFuture<RemoteStatus> f : sent) {
            RemoteStatus s = f.isCompletedExceptionally() ? null : f.join();
            if (s == RemoteStatus.STALE_EPOCH) {
                return s;
            }
            stored |= s == RemoteStatus.OK || s == RemoteStatus.STALE_LSN;
            full |= s == RemoteStatus.FULL;
            corrupt |= s == RemoteStatus.CORRUPT;
        }
        return stored ? RemoteStatus.OK : full ? RemoteStatus.FULL : corrupt ? RemoteStatus.CORRUPT : null;
    }

    @Override
    public CompletableFuture<RemoteStatus> free(long pageId, long epoch) {
        int[] reps = replicasOf(pageId);
        List<CompletableFuture<RemoteStatus>> all = new ArrayList<>();
        for (int r : reps) {
            int node = r;
            all.add(nodes.get(r).free(pageId, epoch).handle((s, ex) -> {
                if (ex == null && (s == RemoteStatus.OK || s == RemoteStatus.NOT_FOUND)) {
                    missed.get(node).remove(pageId); // holding nothing, it cannot hold a stale copy
                }
                return ex == null ? s : RemoteStatus.UNAVAILABLE;
            }));
        }
        return CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0])).thenApply(v -> {
            RemoteStatus out = RemoteStatus.NOT_FOUND;
            for (var f : all) {
                RemoteStatus s = f.join();
                if (s == RemoteStatus.STALE_EPOCH) {
                    return s;
                }
                if (s == RemoteStatus.OK) {
                    out = s;
                }
            }
            return out;
        });
    }

    /** Pages some reachable replica is known to lack the newest copy of (repair backlog). */
    public long missedPages() {
        long n = 0;
        for (var m : missed) {
            n += m.size();
        }
        return n;
    }

    /**
     * Re-replicates pages that reachable replicas missed: each is copied from another replica that
     * holds a copy at least as new as the missed write, and the mark is cleared once it lands (a
     * newer write that missed meanwhile keeps it). Blocking; run from a background thread.
     *
     * @return pages repaired
     */
    public int repair() {
        int repaired = 0;
        for (int node = 0; node < nodes.size(); node++) {
            if (distrusted[node] || !nodes.get(node).isAvailable()) {
                continue;
            }
            for (var e : List.copyOf(missed.get(node).entrySet())) {
                if (repairOne(node, e.getKey(), e.getValue() >>> 3, (int) (e.getValue() & 7))) {
                    repaired++;
                }
            }
        }
        return repaired;
    }

    private boolean repairOne(int node, long pageId, long missedLsn, int sizeClass) {
        Long epoch = epochs.get(PageId.partition(pageId));
        if (epoch == null) {
            return false;
        }
        MemorySegment buf = MemorySegment.ofArray(new byte[dev.strata.core.PageSize.bytes(sizeClass)]);
        for (int src : replicasOf(pageId)) {
            if (src == node || !eligible(src, pageId)) {
                continue;
            }
            try {
                PageRead r = nodes.get(src).get(pageId, sizeClass, buf).join();
                if (!r.found() || r.lsn() < missedLsn) {
                    continue;
                }
                RemoteStatus s = nodes.get(node).put(pageId, epoch, r.lsn(), buf).join();
                track(node, pageId, r.lsn(), sizeClass, s);
                return s == RemoteStatus.OK || s == RemoteStatus.STALE_LSN;
            } catch (RuntimeException e) {
                // try the next source; the mark stays
            }
        }
        return false;
    }

    /** Fences the partition on every node; the answer is the highest epoch any reachable node holds. */
    @Override
    public CompletableFuture<Long> fence(int partition, long epoch) {
        epochs.merge(partition, epoch, Math::max);
        List<CompletableFuture<Long>> all = new ArrayList<>();
        for (MemoryNodeClient n : nodes) {
            all.add(n.fence(partition, epoch).exceptionally(ex -> Long.MIN_VALUE));
        }
        return CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0])).thenCompose(v -> {
            long max = Long.MIN_VALUE;
            for (var f : all) {
                max = Math.max(max, f.join());
            }
            return max == Long.MIN_VALUE
                    ? CompletableFuture.failedFuture(new RemoteMemoryException(RemoteStatus.UNAVAILABLE, "no node reachable"))
                    : CompletableFuture.completedFuture(max);
        });
    }

    @Override
    public void close() {
        if (ownsNodes) {
            for (MemoryNodeClient n : nodes) {
                n.close();
            }
        }
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
