package dev.strata.nbd;

import java.util.List;

/** {@code mount}: see {@link NbdCommands#mount}. */
final class MountCommand {
    private MountCommand() {}

    static void run(List<String> args) throws Exception {
        throw new UnsupportedOperationException("mount not yet wired");
    }
}
