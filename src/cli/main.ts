#!/usr/bin/env node
/** The `bone` command. Subcommands arrive with the training issue; for now it reports what it is. */
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const USAGE = `bone ${pkg.version} — fine-tune Hugging Face language models with Bone/MiSS adapters

Usage: bone <command> [options]

Commands (arriving with the training work): train, generate, merge, convert, inspect, bench
Options:
  --help       show this help
  --version    print the version`;

export function main(argv: string[]): number {
  const [cmd] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h') { console.log(USAGE); return 0; }
  if (cmd === '--version') { console.log(pkg.version); return 0; }
  console.error(`bone: unknown command '${cmd}'. Expected one of: --help, --version.\n\n${USAGE}`);
  return 2;
}

process.exitCode = main(process.argv.slice(2));
