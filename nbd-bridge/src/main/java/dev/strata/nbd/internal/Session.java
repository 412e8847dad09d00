package dev.strata.nbd.internal;

import dev.strata.nbd.Export;

/**
 * Outcome of a successful handshake: which export, and what was negotiated.
 *
 * @param export            the export chosen by EXPORT_NAME or GO
 * @param structuredReplies NBD_OPT_STRUCTURED_REPLY was acknowledged
 * @param baseAllocation    base:allocation was selected with SET_META_CONTEXT
 */
public record Session(Export export, boolean structuredReplies, boolean baseAllocation) {}
