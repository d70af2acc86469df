/** What every subcommand module exports for the dispatcher in main.ts. */
import { helpText, loadCommandLine, requireOptions, type CommandSyntax, type OptionSpecs, type OptionValues } from './args.ts';
import { println, type CliIO } from './io.ts';

export interface Command {
  syntax: CommandSyntax<OptionSpecs>;
  /** Parse `argv` (after the subcommand's name), run, print; returns the exit code. Throws UsageError for bad arguments. */
  main(argv: readonly string[], io: CliIO): Promise<number>;
}

/**
 * A command whose options are all flags (or its config file): --help prints the help and a missing
 * required option is a UsageError here, so that `run` starts from complete values.
 */
export function defineCommand<S extends OptionSpecs>(syntax: CommandSyntax<S>, run: (values: OptionValues<S>, io: CliIO) => Promise<number>): Command {
  return {
    syntax,
    async main(argv, io) {
      const { help, values } = await loadCommandLine(syntax, argv);
      if (help) { println(io.stdout, helpText(syntax)); return 0; }
      requireOptions(syntax, values);
      return run(values, io);
    },
  };
}
