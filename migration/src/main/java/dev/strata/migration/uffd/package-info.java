/**
 * The userfaultfd frontend (DESIGN §8): a backend mapped into this process's memory, pages pulled
 * on first touch with {@code UFFDIO_COPY}. The fault handler runs in a helper process
 * ({@link dev.strata.migration.uffd.UffdHelper}) that receives the userfaultfd over a Unix socket
 * with {@code SCM_RIGHTS}, never in the JVM touching the memory (a faulting Java thread blocks the
 * next GC safepoint; a handler thread in the same JVM would wait for that safepoint: deadlock).
 */
package dev.strata.migration.uffd;
