/**
 * The {@code RemoteMemory} transport SPI: asynchronous one-sided {@code read}, {@code write} and
 * {@code compareAndSwap} on registered regions named by a key, its wire format
 * ({@link dev.strata.core.remote.RemoteFrameDescriptor}, {@link dev.strata.core.remote.RemoteFrame}),
 * the server-side {@link dev.strata.core.remote.RegionTable} that serves one-sided operations with
 * nothing but bounds checks, and the in-process implementation. The Netty TCP implementation lives in
 * the {@code memory-node} module.
 */
package dev.strata.core.remote;
