package dev.strata.memory;

import java.time.Duration;

/**
 * Client-side settings. Keys when read from text: {@code strata.memory.client.*}.
 *
 * @param requestTimeout a request with no answer after this fails with {@code TIMEOUT}
 * @param reconnectBackoff after a connection is lost, requests fail fast for this long before a reconnect is tried
 * @param connectTimeout bound of one TCP connect
 */
public record ClientOptions(Duration requestTimeout, Duration reconnectBackoff, Duration connectTimeout) {
    public ClientOptions {
        if (requestTimeout.toMillis() < 1 || reconnectBackoff.isNegative() || connectTimeout.toMillis() < 1) {
            throw new IllegalArgumentException("strata.memory.client timeouts must be positive: " + requestTimeout
                    + ", " + reconnectBackoff + ", " + connectTimeout);
        }
    }

    /** 1 s request timeout, 200 ms reconnect backoff, 1 s connect timeout. */
    public static ClientOptions defaults() {
        return new ClientOptions(Duration.ofSeconds(1), Duration.ofMillis(200), Duration.ofSeconds(1));
    }

    public ClientOptions withRequestTimeout(Duration d) {
        return new ClientOptions(d, reconnectBackoff, connectTimeout);
    }

    public ClientOptions withReconnectBackoff(Duration d) {
        return new ClientOptions(requestTimeout, d, connectTimeout);
    }
}
