/**
 * Implementation of the durable local engine: the log record frame layout, segment reading and naming, log
 * recovery, the group-commit writer, the page-file metadata layout, the legacy double-write buffer (read once to
 * repair a store of the previous version), and {@code NativeFile} — positional file I/O through libc downcalls,
 * immune to thread interrupts. Only {@code dev.strata.storage} may use these classes; other modules must not.
 */
package dev.strata.storage.internal;
