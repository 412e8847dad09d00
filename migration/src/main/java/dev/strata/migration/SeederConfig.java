package dev.strata.migration;

import java.net.InetAddress;
import java.time.Duration;
import java.util.Objects;
import javax.net.ssl.SSLContext;

/**
 * Configuration of a {@link Seeder}.
 *
 * @param bind           address to listen on
 * @param port           port, 0 for any free one
 * @param chunkSize      transfer and dirty-tracking unit, a power of two in [4 KiB, 4 MiB]
 * @param epoch          the epoch the seeder's backend is owned at (a finalize moves it to epoch+1 or more)
 * @param tls            TLS context, or null for plain TCP
 * @param needClientAuth with TLS: require a client certificate (mTLS)
 * @param suspendTimeout how long writes may stay suspended before finalize is rolled back
 * @param hook           run when writes are suspended (application msync)
 * @param faults         test fault points
 */
public record SeederConfig(InetAddress bind, int port, int chunkSize, long epoch, SSLContext tls,
                           boolean needClientAuth, Duration suspendTimeout, SuspendHook hook, FaultHook faults) {
    public SeederConfig {
        Objects.requireNonNull(bind, "bind");
        Objects.requireNonNull(suspendTimeout, "suspendTimeout");
        hook = hook == null ? SuspendHook.NONE : hook;
        faults = faults == null ? FaultHook.NONE : faults;
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port " + port);
        }
        if (!dev.strata.migration.internal.Wire.validChunkSize(chunkSize)) {
            throw new IllegalArgumentException("chunk size must be a power of two in [4 KiB, 4 MiB]: " + chunkSize);
        }
        if (epoch < 0) {
            throw new IllegalArgumentException("epoch " + epoch);
        }
    }

    /** Loopback, any port, 64 KiB chunks, epoch 1, plain TCP, 10 s suspend timeout. */
    public static SeederConfig defaults() {
        return new SeederConfig(InetAddress.getLoopbackAddress(), 0, 64 * 1024, 1, null, false,
                Duration.ofSeconds(10), SuspendHook.NONE, FaultHook.NONE);
    }

    public SeederConfig withPort(int p) {
        return new SeederConfig(bind, p, chunkSize, epoch, tls, needClientAuth, suspendTimeout, hook, faults);
    }

    public SeederConfig withChunkSize(int c) {
        return new SeederConfig(bind, port, c, epoch, tls, needClientAuth, suspendTimeout, hook, faults);
    }

    public SeederConfig withEpoch(long e) {
        return new SeederConfig(bind, port, chunkSize, e, tls, needClientAuth, suspendTimeout, hook, faults);
    }

    public SeederConfig withTls(SSLContext ctx, boolean needClientAuth) {
        return new SeederConfig(bind, port, chunkSize, epoch, ctx, needClientAuth, suspendTimeout, hook, faults);
    }

    public SeederConfig withHook(SuspendHook h) {
        return new SeederConfig(bind, port, chunkSize, epoch, tls, needClientAuth, suspendTimeout, h, faults);
    }

    public SeederConfig withFaults(FaultHook f) {
        return new SeederConfig(bind, port, chunkSize, epoch, tls, needClientAuth, suspendTimeout, hook, f);
    }

    public SeederConfig withBind(InetAddress b) {
        return new SeederConfig(b, port, chunkSize, epoch, tls, needClientAuth, suspendTimeout, hook, faults);
    }
}
