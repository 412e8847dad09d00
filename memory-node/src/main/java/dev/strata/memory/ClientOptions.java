package dev.strata.memory;

import java.time.Duration;

/**
 * Client-side settings. Keys when read from text: {@code strata.memory.client.*}.
 *
 * @param requestTimeout a request with no answer after this fails with {@code TIMEOUT}
 * @param reconnectBackoff after a connection is lost, requests fail fast for this long before a reconnect is tried
 * @param connectTimeout bound of one TCP connect
 * @param callerRunsIo each calling thread does its own I/O over its own connection (one request in
 *     flight per thread, no hand-off to an I/O thread): lowest latency for threads that block on
 *     every request, such as buffer-pool misses; off (the default) pipelines every thread's
 *     requests over one connection served by an I/O thread
 */
public record ClientOptions(Duration requestTimeout, Duration reconnectBackoff, Duration connectTimeout,
        boolean callerRunsIo) {
    public ClientOptions {
        if (requestTimeout.toMillis() < 1 || reconnectBackoff.isNegative() || connectTimeout.toMillis() < 1) {
            throw new IllegalArgumentException("strata.memory.client timeouts must be positive: " + requestTimeout
                    + ", " + reconnectBackoff + ", " + connectTimeout);
        }
    }

    /** 1 s request timeout, 200 ms reconnect backoff, 1 s connect timeout. */
    public static ClientOptions defaults() {
        return new ClientOptions(Duration.ofSeconds(1), Duration.ofMillis(200), Duration.ofSeconds(1), false);
    }

    public ClientOptions withRequestTimeout(Duration d) {
        return new ClientOptions(d, reconnectBackoff, connectTimeout, callerRunsIo);
    }

    public ClientOptions withReconnectBackoff(Duration d) {
        return new ClientOptions(requestTimeout, d, connectTimeout, callerRunsIo);
    }

    public ClientOptions withCallerRunsIo(boolean on) {
        return new ClientOptions(requestTimeout, reconnectBackoff, connectTimeout, on);
    }
}
