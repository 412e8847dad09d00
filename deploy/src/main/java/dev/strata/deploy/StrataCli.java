package dev.strata.deploy;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code strata} command. */
@Command(name = "strata", mixinStandardHelpOptions = true, version = "strata 0.1.0",
        description = "Strata: a tiered, disaggregated-memory page store.",
        subcommands = {DemoCommand.class, NbdCommand.class, MountCommand.class, MemoryNodeCommand.class, MigrateCommand.class,
                CommandLine.HelpCommand.class})
public final class StrataCli implements Runnable {
    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    /**
     * The command line with Strata's error handling: a failing command prints one line
     * ({@code strata: message}, plus the cause's) instead of a stack trace, and exits with 1;
     * {@code STRATA_DEBUG=1} prints the stack trace too.
     */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new StrataCli());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            StringBuilder msg = new StringBuilder("strata: ").append(e.getMessage() == null ? e : e.getMessage());
            if (e.getCause() != null && e.getCause().getMessage() != null
                    && !msg.toString().contains(e.getCause().getMessage())) {
                msg.append(" (").append(e.getCause().getMessage()).append(')');
            }
            cmd.getErr().println(msg);
            if (System.getenv("STRATA_DEBUG") != null) {
                e.printStackTrace(cmd.getErr());
            }
            return 1;
        });
        return cli;
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }
}
