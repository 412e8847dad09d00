package dev.strata.nbd;

import dev.strata.core.ByteSize;
import dev.strata.nbd.mount.ManagedMount;
import dev.strata.nbd.mount.MountConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code mount --backend SPEC [--dir DIR] [--frontend device|fuse|auto] [--device /dev/nbdN] [--managed]
 * [--chunk 1M] [--pull-workers 8] [--push-workers 8] [--read-only]}: prints the path (device or file).
 */
final class MountCommand {
    private MountCommand() {}

    static void run(List<String> args) throws Exception {
        String spec = NbdCommands.opt(args, "--backend", null);
        String dir = NbdCommands.opt(args, "--dir", null);
        NbdCommands.Frontend frontend = NbdCommands.Frontend.parse(NbdCommands.opt(args, "--frontend", "auto"));
        String device = NbdCommands.opt(args, "--device", null);
        if (spec == null) {
            throw new IllegalArgumentException("mount needs --backend SPEC");
        }
        MountConfig d = MountConfig.defaults();
        MountConfig cfg = new MountConfig((int) ByteSize.parse(NbdCommands.opt(args, "--chunk", "1M")),
                Integer.parseInt(NbdCommands.opt(args, "--pull-workers", Integer.toString(d.pullWorkers()))),
                Integer.parseInt(NbdCommands.opt(args, "--push-workers", Integer.toString(d.pushWorkers()))),
                d.pullBatch(), d.pushBatch(), d.pushInterval(), d.readAhead(), null);
        try (NbdCommands.Mounted m = NbdCommands.mount(spec, dir == null ? null : Path.of(dir),
                args.contains("--managed"), cfg, args.contains("--read-only"), frontend,
                device == null ? null : Path.of(device))) {
            System.out.println(m.file());
            System.out.flush();
            CountDownLatch stop = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
            while (!stop.await(1, TimeUnit.SECONDS)) {
                if (m.managed() != null) {
                    System.err.print("\r" + progress(m.managed().stats()));
                }
            }
        }
    }

    /** A one-line progress bar: pulled chunks, dirty chunks, bytes pushed. */
    static String progress(ManagedMount.Stats s) {
        int width = 30;
        int filled = s.chunks() == 0 ? width : (int) (width * s.present() / s.chunks());
        return "[" + "#".repeat(filled) + " ".repeat(width - filled) + "] pulled " + s.present() + "/" + s.chunks()
                + " chunks, dirty " + s.dirty() + ", pushed " + ByteSize.format(s.pushedBytes())
                + (s.pushErrors() > 0 ? ", push errors " + s.pushErrors() : "");
    }

}
