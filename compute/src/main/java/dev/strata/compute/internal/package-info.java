/** Internals of the embedded store: the local file tier behind the buffer pool. */
package dev.strata.compute.internal;
