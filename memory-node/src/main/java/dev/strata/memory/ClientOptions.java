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
 * @param pollMicros how long a thread waiting for an answer (the I/O thread, or with
 *     {@code callerRunsIo} the caller) polls its socket before it sleeps in the kernel; an answer
 *     that arrives meanwhile skips the scheduler wake-up. 0 = sleep at once
 */
public record ClientOptions(Duration requestTimeout, Duration reconnectBackoff, Duration connectTimeout,
        boolean callerRunsIo, int pollMicros) {
    public ClientOptions {
        if (requestTimeout.toMillis() < 1 || reconnectBackoff.isNegative() || connectTimeout.toMillis() < 1) {
            throw new IllegalArgumentException("strata.memory.client timeouts must be positive: " + requestTimeout
                    + ", " + reconnectBackoff + ", " + connectTimeout);
        }
        if (pollMicros < 0 || pollMicros > 1_000_000) {
            throw new IllegalArgumentException("strata.memory.client poll must be in [0, 1000000] µs: " + pollMicros);
        }
    }

    /** 1 s request timeout, 200 ms reconnect backoff, 1 s connect timeout, pipelined, 50 µs poll. */
    public static ClientOptions defaults() {
        return new ClientOptions(Duration.ofSeconds(1), Duration.ofMillis(200), Duration.ofSeconds(1), false, 50);
    }

    public ClientOptions withRequestTimeout(Duration d) {
        return new ClientOptions(d, reconnectBackoff, connectTimeout, callerRunsIo, pollMicros);
    }

    public ClientOptions withReconnectBackoff(Duration d) {
        return new ClientOptions(requestTimeout, d, connectTimeout, callerRunsIo, pollMicros);
    }

    public ClientOptions withCallerRunsIo(boolean on) {
        return new ClientOptions(requestTimeout, reconnectBackoff, connectTimeout, on, pollMicros);
    }

    public ClientOptions withPollMicros(int us) {
        return new ClientOptions(requestTimeout, reconnectBackoff, connectTimeout, callerRunsIo, us);
    }
}
