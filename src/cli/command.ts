/** What every subcommand module exports for the dispatcher in main.ts. */
import type { CommandSyntax, OptionSpecs } from './args.ts';
import type { CliIO } from './io.ts';

export interface Command {
  syntax: CommandSyntax<OptionSpecs>;
  /** Parse `argv` (after the subcommand's name), run, print; returns the exit code. Throws UsageError for bad arguments. */
  main(argv: readonly string[], io: CliIO): Promise<number>;
}
