package dev.strata.nbd.mount;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * Exposes a managed mount's progress as Micrometer meters (tag {@code mount=<name>}):
 *
 * <pre>
 *   strata.nbd.mount.chunks            gauge    chunks in the device
 *   strata.nbd.mount.chunks.present    gauge    chunks pulled (or fully written) into the cache
 *   strata.nbd.mount.chunks.dirty      gauge    chunks changed locally and not yet pushed
 *   strata.nbd.mount.pulled.bytes      counter  bytes fetched from the remote
 *   strata.nbd.mount.pushed.bytes      counter  bytes sent to the remote
 *   strata.nbd.mount.push.errors       counter  failed pushes (retried)
 * </pre>
 * Values are read from {@link ManagedMount#stats()} when the registry is scraped.
 */
public final class MountMetrics {
    private MountMetrics() {}

    public static void bind(MeterRegistry registry, String name, ManagedMount mount) {
        Gauge.builder("strata.nbd.mount.chunks", mount, m -> m.stats().chunks()).tag("mount", name).register(registry);
        Gauge.builder("strata.nbd.mount.chunks.present", mount, m -> m.stats().present()).tag("mount", name)
                .register(registry);
        Gauge.builder("strata.nbd.mount.chunks.dirty", mount, m -> m.stats().dirty()).tag("mount", name)
                .register(registry);
        FunctionCounter.builder("strata.nbd.mount.pulled.bytes", mount, m -> m.stats().pulledBytes())
                .tag("mount", name).baseUnit("bytes").register(registry);
        FunctionCounter.builder("strata.nbd.mount.pushed.bytes", mount, m -> m.stats().pushedBytes())
                .tag("mount", name).baseUnit("bytes").register(registry);
        FunctionCounter.builder("strata.nbd.mount.push.errors", mount, m -> m.stats().pushErrors())
                .tag("mount", name).register(registry);
    }
}
