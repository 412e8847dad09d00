package dev.strata.deploy;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code strata} command. */
@Command(name = "strata", mixinStandardHelpOptions = true, version = "strata 0.1.0",
        description = "Strata: a tiered, disaggregated-memory page store.",
        subcommands = {DemoCommand.class, CommandLine.HelpCommand.class})
public final class StrataCli implements Runnable {
    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new StrataCli()).execute(args));
    }
}
