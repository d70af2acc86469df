/**
 * `bone convert --adapter DIR --out DIR [--to TYPE]`: an adapter in another method's format, by the
 * conversions the methods' registry records declare (a legacy Bone adapter becomes the MiSS adapter
 * PEFT ≥ 0.19 reads, as PEFT's convert-bone-to-miss.py does).
 */
import { join } from 'node:path';
import { PeftError, adapterConversions, peftMethod, readAdapterConfigJson, ADAPTER_CONFIG_NAME, type AdapterConversion } from '../../peft/index.ts';
import { UsageError, checkOptions, helpText, loadCommandLine, requireOptions, type CommandSyntax, type OptionSpecs } from '../args.ts';
import type { Command } from '../command.ts';
import { println, processIO, type CliIO } from '../io.ts';
import { checkAdapterPath, checkOutputFolder } from '../paths.ts';

const conversions = adapterConversions();
const targetNames = [...new Set(conversions.map((c) => peftMethod(c.conversion.to).name))];

export const convertSyntax = {
  name: 'convert',
  summary: `Convert an adapter into another method's format: ${conversions.map((c) => `${c.from.name} → ${peftMethod(c.conversion.to).name}`).join(', ')}.`,
  usage: '--adapter DIR --out DIR [--to TYPE]',
  notes: [
    ...conversions.map((c) => `${c.from.peftType} → ${c.conversion.to}: ${c.conversion.help}`),
    '--out may equal --adapter (converts in place).',
  ].join('\n'),
  options: {
    adapter: { kind: 'path', required: true, valueName: 'DIR', description: 'the adapter folder to convert' },
    out: { kind: 'path', required: true, valueName: 'DIR', description: `the folder to write the ${targetNames.join(' or ')} adapter to` },
    to: {
      kind: 'choice', choices: [...new Set(conversions.map((c) => c.conversion.to.toLowerCase()))], valueName: 'TYPE',
      description: 'the format to convert to, when the adapter\'s method has more than one conversion',
    },
  },
} as const satisfies CommandSyntax<OptionSpecs>;

export interface ConvertOptions {
  adapter: string;
  out: string;
  to?: string;
  io?: CliIO;
}

export interface ConvertResult {
  out: string;
  tensors: number;
  from: string;
  to: string;
}

/** The conversion for an adapter of `peftType`, chosen by `to` when its method has several. */
function conversionFor(peftType: unknown, to: string | undefined, file: string): AdapterConversion {
  const candidates = conversions.filter((c) => c.from.peftType === peftType).map((c) => c.conversion);
  if (candidates.length === 0) {
    const types = [...new Set(conversions.map((c) => `"${c.from.peftType}"`))];
    // The folder's content is at fault, not the command line: exit 1, as PEFT's script fails.
    throw new PeftError(`${file}: expected peft_type ${types.join(' or ')} to convert, found ${JSON.stringify(peftType)}`);
  }
  if (to === undefined) {
    if (candidates.length === 1) return candidates[0]!;
    throw new UsageError('convert', `${file}: a ${String(peftType)} adapter converts to ${candidates.map((c) => c.to.toLowerCase()).join(' or ')}: choose one with --to`);
  }
  const chosen = candidates.find((c) => c.to.toLowerCase() === to.toLowerCase());
  if (!chosen) throw new UsageError('convert', `--to ${to}: a ${String(peftType)} adapter converts to ${candidates.map((c) => c.to.toLowerCase()).join(' or ')}`);
  return chosen;
}

export async function runConvert(options: ConvertOptions): Promise<ConvertResult> {
  const values = checkOptions(convertSyntax, options, 'runConvert options');
  requireOptions(convertSyntax, values);
  await checkAdapterPath('convert', '--adapter', options.adapter);
  await checkOutputFolder('convert', '--out', options.out);
  const from = (await readAdapterConfigJson(options.adapter)).peft_type;
  const conversion = conversionFor(from, options.to, join(options.adapter, ADAPTER_CONFIG_NAME));
  const { tensors } = await conversion.convert(options.adapter, options.out);
  println((options.io ?? processIO()).stdout, `converted ${tensors} tensors: ${options.adapter} (${String(from)}) → ${options.out} (${conversion.to})`);
  return { out: options.out, tensors, from: String(from), to: conversion.to };
}

export const convertCommand: Command = {
  syntax: convertSyntax,
  async main(argv, io) {
    const { help, values } = await loadCommandLine(convertSyntax, argv);
    if (help) { println(io.stdout, helpText(convertSyntax)); return 0; }
    requireOptions(convertSyntax, values);
    await runConvert({ adapter: values.adapter!, out: values.out!, ...(values.to === undefined ? {} : { to: values.to }), io });
    return 0;
  },
};
