#!/usr/bin/env node
/**
 * The `bone` command: dispatches to the subcommands in ./commands/. Exit codes: 0 success, 1 the
 * work failed (a bad checkpoint, a dataset error...), 2 a usage error (bad or missing argument),
 * 130 training stopped by Ctrl-C (after writing a checkpoint).
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import '../node/install.ts';
import { UsageError } from './args.ts';
import type { Command } from './command.ts';
import { benchCommand } from './commands/bench.ts';
import { convertCommand } from './commands/convert.ts';
import { exportCommand } from './commands/export.ts';
import { generateCommand } from './commands/generate.ts';
import { inspectCommand } from './commands/inspect.ts';
import { mergeCommand } from './commands/merge.ts';
import { trainCommand } from './commands/train.ts';
import { println, processIO, type CliIO } from './io.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export const COMMANDS: readonly Command[] = [trainCommand, generateCommand, mergeCommand, exportCommand, convertCommand, inspectCommand, benchCommand];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.syntax.name.length)) + 2;
  return [
    `bone ${pkg.version} — fine-tune Hugging Face language models with Bone/MiSS adapters`,
    '',
    'Usage: bone <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.syntax.name.padEnd(width)}${c.syntax.summary.split('\n')[0]}`),
    '',
    'Options:',
    '  --help       show this help (bone <command> --help: the command\'s options)',
    '  --version    print the version',
  ].join('\n');
}

/** Run the CLI with `argv` (without node and the script); returns the exit code. */
export async function main(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.syntax.name === rest[0]) : undefined;
    return topic ? topic.main(['--help'], io) : (println(io.stdout, usage()), 0);
  }
  if (name === '--version' || name === '-v') { println(io.stdout, pkg.version); return 0; }
  const command = COMMANDS.find((c) => c.syntax.name === name);
  if (!command) {
    println(io.stderr, `bone: unknown command ${JSON.stringify(name)}. Expected one of: ${COMMANDS.map((c) => c.syntax.name).join(', ')}, --help, --version.\n\n${usage()}`);
    return 2;
  }
  try {
    return await command.main(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      println(io.stderr, `bone ${error.command}: ${error.message}\nRun 'bone ${error.command} --help' for the options.`);
      return 2;
    }
    const e = error instanceof Error ? error : new Error(String(error));
    // BONE_DEBUG=1 shows where it happened; users get the message, which names the file/flag at fault.
    println(io.stderr, `bone ${name}: ${process.env.BONE_DEBUG ? e.stack ?? e.message : `${e.name === 'Error' ? 'error' : e.name}: ${e.message}`}`);
    return 1;
  }
}

/** True when this file is the program (`node dist/cli/main.js`, the `bone` bin link, tsx), not an import. */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.exitCode = await main(process.argv.slice(2));
}
