package dev.strata.nbd;

import java.io.IOException;

/** Backends reached through a chunk store: dir:, s3://, redis:// specs. */
final class BackendSpecs {
    private BackendSpecs() {}

    static Backend open(String spec, boolean readOnly) throws IOException {
        throw new IllegalArgumentException("unknown backend spec: " + spec);
    }
}
