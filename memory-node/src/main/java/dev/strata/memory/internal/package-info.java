/**
 * Memory-node internals: the frame allocator and page-frame table ({@link dev.strata.memory.internal.PageFrames}),
 * the Netty server and client ({@link dev.strata.memory.internal.TcpServer}, {@link dev.strata.memory.internal.TcpClient})
 * speaking the frames of {@link dev.strata.core.remote.RemoteFrameDescriptor}, and the in-process client.
 */
package dev.strata.memory.internal;
