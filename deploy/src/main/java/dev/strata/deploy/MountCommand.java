package dev.strata.deploy;

import dev.strata.nbd.NbdCommands;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code strata mount}: a backend as {@code /dev/nbdX} (kernel nbd client, ioctl via FFM) or as a file
 * (nbdfuse), direct or managed; disconnects/unmounts on SIGTERM/SIGINT.
 */
@Command(name = "mount", mixinStandardHelpOptions = true,
        description = "Mount a backend through a local NBD export as /dev/nbdX or an nbdfuse file; prints the path.")
public final class MountCommand implements Callable<Integer> {
    @Option(names = "--backend", required = true, description = "backend spec, as for 'nbd serve --backend'")
    String backend;

    @Option(names = "--dir", description = "directory to mount on (the file appears inside it); needed by the fuse frontend")
    Path dir;

    @Option(names = "--frontend", defaultValue = "auto",
            description = "device (/dev/nbdX), fuse (nbdfuse file) or auto (device when /dev/nbd0 exists and one is usable, else fuse; default)")
    String frontend;

    @Option(names = "--device", description = "the /dev/nbdN to connect (default: the first usable one)")
    Path device;

    @Option(names = "--managed", description = "local cache with background pull and push (default: direct)")
    boolean managed;

    @Option(names = "--read-only", description = "mount read-only")
    boolean readOnly;

    @Option(names = "--chunk", defaultValue = "1M", description = "chunk size of a managed mount (default: ${DEFAULT-VALUE})")
    String chunk;

    @Option(names = "--pull-workers", description = "background pull workers of a managed mount")
    Integer pullWorkers;

    @Option(names = "--push-workers", description = "background push workers of a managed mount")
    Integer pushWorkers;

    @Override
    public Integer call() throws Exception {
        List<String> args = new ArrayList<>(List.of("mount", "--backend", backend, "--frontend", frontend,
                "--chunk", chunk));
        if (dir != null) {
            args.addAll(List.of("--dir", dir.toString()));
        }
        if (device != null) {
            args.addAll(List.of("--device", device.toString()));
        }
        if (managed) {
            args.add("--managed");
        }
        if (readOnly) {
            args.add("--read-only");
        }
        if (pullWorkers != null) {
            args.addAll(List.of("--pull-workers", pullWorkers.toString()));
        }
        if (pushWorkers != null) {
            args.addAll(List.of("--push-workers", pushWorkers.toString()));
        }
        NbdCommands.main(args.toArray(String[]::new));
        return 0;
    }
}
