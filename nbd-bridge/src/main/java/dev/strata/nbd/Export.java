package dev.strata.nbd;

import java.util.Objects;

/**
 * One named export of an {@link NbdServer}.
 *
 * @param name        export name as clients ask for it ("" is the default export)
 * @param description free text shown by {@code nbdinfo --list}
 * @param backend     the storage; owned by the caller
 * @param readOnly    refuse WRITE/TRIM/WRITE_ZEROES with EPERM
 */
public record Export(String name, String description, Backend backend, boolean readOnly) {
    public Export {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(backend, "backend");
        if (name.length() > 4096) {
            throw new IllegalArgumentException("export name longer than 4096 bytes");
        }
    }
}
