package dev.strata.migration;

import dev.strata.nbd.Backend;
import dev.strata.nbd.backend.MemoryBackend;
import java.time.Duration;
import java.util.Objects;
import java.util.function.LongFunction;
import javax.net.ssl.SSLContext;

/**
 * Configuration of a {@link Leecher}.
 *
 * @param maxDowntime      finalize once the estimated final transfer fits this
 * @param maxRounds        pre-copy rounds after which finalize happens anyway (not converging)
 * @param ioTimeout        a frame awaited longer than this counts as a lost connection
 * @param reconnectTimeout how long to keep reconnecting after a cut before giving up
 * @param tls              TLS context (trust, and a key for mTLS), or null for plain TCP
 * @param local            makes the local backend of the negotiated size (the leecher owns it)
 * @param minVersion       lowest protocol version offered
 * @param maxVersion       highest protocol version offered
 */
public record LeecherConfig(Duration maxDowntime, int maxRounds, Duration ioTimeout, Duration reconnectTimeout,
                            SSLContext tls, LongFunction<Backend> local, int minVersion, int maxVersion) {
    public LeecherConfig {
        Objects.requireNonNull(maxDowntime, "maxDowntime");
        Objects.requireNonNull(ioTimeout, "ioTimeout");
        Objects.requireNonNull(reconnectTimeout, "reconnectTimeout");
        local = local == null ? MemoryBackend::new : local;
        if (maxRounds < 1 || minVersion < 1 || maxVersion < minVersion || maxVersion > 0xffff) {
            throw new IllegalArgumentException("rounds " + maxRounds + ", versions " + minVersion + ".." + maxVersion);
        }
    }

    /** 50 ms max downtime, 30 rounds, 60 s I/O timeout, 60 s reconnect window, plain TCP, memory backend. */
    public static LeecherConfig defaults() {
        return new LeecherConfig(Duration.ofMillis(50), 30, Duration.ofSeconds(60), Duration.ofSeconds(60), null,
                null, 1, dev.strata.migration.internal.Wire.VERSION);
    }

    public LeecherConfig withMaxDowntime(Duration d) {
        return new LeecherConfig(d, maxRounds, ioTimeout, reconnectTimeout, tls, local, minVersion, maxVersion);
    }

    public LeecherConfig withMaxRounds(int r) {
        return new LeecherConfig(maxDowntime, r, ioTimeout, reconnectTimeout, tls, local, minVersion, maxVersion);
    }

    public LeecherConfig withTls(SSLContext ctx) {
        return new LeecherConfig(maxDowntime, maxRounds, ioTimeout, reconnectTimeout, ctx, local, minVersion, maxVersion);
    }

    public LeecherConfig withLocal(LongFunction<Backend> f) {
        return new LeecherConfig(maxDowntime, maxRounds, ioTimeout, reconnectTimeout, tls, f, minVersion, maxVersion);
    }

    public LeecherConfig withVersions(int min, int max) {
        return new LeecherConfig(maxDowntime, maxRounds, ioTimeout, reconnectTimeout, tls, local, min, max);
    }

    public LeecherConfig withReconnectTimeout(Duration d) {
        return new LeecherConfig(maxDowntime, maxRounds, ioTimeout, d, tls, local, minVersion, maxVersion);
    }
}
