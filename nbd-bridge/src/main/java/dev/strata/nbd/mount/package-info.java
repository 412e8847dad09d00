/** Mounts: the managed mount (local cache, background puller and pusher, flush barrier) and its bitmaps. */
package dev.strata.nbd.mount;
