package dev.strata.nbd;

import dev.strata.core.ByteSize;
import dev.strata.nbd.backend.FileBackend;
import dev.strata.nbd.backend.MemoryBackend;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Opens a backend from a spec string, as the CLI takes it:
 *
 * <pre>
 *   memory:SIZE                      off-heap memory, e.g. memory:1G
 *   file:PATH[:SIZE]                 a file (created sparse with SIZE if missing)
 * </pre>
 * Further schemes (dir:, s3://, redis://) are added by {@link BackendSpecs}.
 */
public final class Backends {
    private Backends() {}

    public static Backend open(String spec, boolean readOnly) throws IOException {
        if (spec.startsWith("memory:")) {
            return new MemoryBackend(ByteSize.parse(spec.substring(7)));
        }
        if (spec.startsWith("file:")) {
            String rest = spec.substring(5);
            int colon = rest.lastIndexOf(':');
            long size = 0;
            if (colon > 0 && Character.isDigit(rest.charAt(colon + 1))) {
                size = ByteSize.parse(rest.substring(colon + 1));
                rest = rest.substring(0, colon);
            }
            return new FileBackend(Path.of(rest), size, readOnly);
        }
        return BackendSpecs.open(spec, readOnly);
    }
}
