/**
 * `bone convert --adapter DIR --out DIR [--to TYPE]`: an adapter in another method's format, by the
 * conversions the methods' registry records declare (a legacy Bone adapter becomes the MiSS adapter
 * PEFT ≥ 0.19 reads, as PEFT's convert-bone-to-miss.py does).
 */
import { join, resolve } from 'node:path';
import {
  PeftError, adapterConversions, parseLoraRank, peftMethod, readAdapterConfigJson, ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME,
  type AdapterConversion, type AdapterConversionOptions,
} from '../../peft/index.ts';
import { UsageError, checkOptions, requireOptions, type CommandSyntax, type OptionSpecs } from '../args.ts';
import { defineCommand } from '../command.ts';
import { println, processIO, type CliIO } from '../io.ts';
import { OVERWRITE_OPTION, checkAdapterPath, checkModelPath, checkOutputFolder } from '../paths.ts';

const conversions = adapterConversions();
const targetNames = [...new Set(conversions.map((c) => peftMethod(c.conversion.to).name))];

export const convertSyntax = {
  name: 'convert',
  summary: `Convert an adapter into another method's format: ${conversions.map((c) => `${c.from.name} → ${peftMethod(c.conversion.to).name}`).join(', ')}.`,
  usage: '--adapter DIR --out DIR [--to TYPE] [--rank N] [--model DIR]',
  notes: [
    ...conversions.map((c) => `${c.from.peftType} → ${c.conversion.to}: ${c.conversion.help}`),
    '--out may equal --adapter for BONE → MISS (converts in place).',
    '',
    'Examples:',
    '  bone convert --adapter ./old-bone-adapter --out ./miss-adapter',
    '  bone convert --to lora --adapter ./run --model ./SmolLM2-135M --out ./run-lora',
    '  bone convert --to lora --adapter ./bat-run --model ./SmolLM2-135M --rank 0.99 --out ./bat-lora',
  ].join('\n'),
  options: {
    adapter: { kind: 'path', required: true, valueName: 'DIR', description: 'the adapter folder to convert' },
    out: { kind: 'path', required: true, valueName: 'DIR', description: `the folder to write the ${targetNames.join(' or ')} adapter to` },
    ...OVERWRITE_OPTION,
    to: {
      kind: 'choice', choices: [...new Set(conversions.map((c) => c.conversion.to.toLowerCase()))], valueName: 'TYPE',
      description: 'the format to convert to (default: the adapter method\'s first: bone → miss, miss → lora)',
    },
    rank: { kind: 'string', valueName: 'N', description: 'lora: the rank (an integer), or a share of the squared singular values (0.99); default the adapter\'s r' },
    model: { kind: 'path', valueName: 'DIR', description: 'lora: the base model folder (default: the adapter\'s base_model_name_or_path)' },
  },
} as const satisfies CommandSyntax<OptionSpecs>;

export interface ConvertOptions {
  adapter: string;
  out: string;
  to?: string;
  /** An integer, or a share in (0, 1) such as "0.99" (a number < 1 counts as a share). */
  rank?: string | number;
  model?: string;
  /** Replace an adapter that --out already holds (converting in place needs no flag). */
  overwrite?: boolean;
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
  // Without --to, a method's first conversion (Bone → MiSS, as before LoRA conversion existed).
  if (to === undefined) return candidates[0]!;
  const chosen = candidates.find((c) => c.to.toLowerCase() === to.toLowerCase());
  if (!chosen) throw new UsageError('convert', `--to ${to}: a ${String(peftType)} adapter converts to ${candidates.map((c) => c.to.toLowerCase()).join(' or ')}`);
  return chosen;
}

/** --rank as the library reads it; a bad value is a usage error. */
export function parseRankFlag(command: string, value: string | number): number | { share: number } {
  try {
    return parseLoraRank(value);
  } catch {
    throw new UsageError(command, `--rank expects an integer ≥ 1 or a share in (0, 1] such as 0.99, found ${JSON.stringify(String(value))}`);
  }
}

export async function runConvert(options: ConvertOptions): Promise<ConvertResult> {
  const values = checkOptions(convertSyntax, options, 'runConvert options');
  requireOptions(convertSyntax, values);
  await checkAdapterPath('convert', '--adapter', options.adapter);
  const inPlace = resolve(options.out) === resolve(options.adapter);
  await checkOutputFolder('convert', '--out', options.out, { holds: { what: 'an adapter', files: [ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME] }, overwrite: inPlace || options.overwrite });
  const from = (await readAdapterConfigJson(options.adapter)).peft_type;
  const conversion = conversionFor(from, options.to, join(options.adapter, ADAPTER_CONFIG_NAME));
  const given: AdapterConversionOptions = {
    ...(options.rank === undefined ? {} : { rank: parseRankFlag('convert', options.rank) }),
    ...(options.model === undefined ? {} : { model: options.model }),
  };
  for (const key of Object.keys(given) as (keyof AdapterConversionOptions)[]) {
    if (!(conversion.options ?? []).includes(key)) throw new UsageError('convert', `--${key} does not apply to ${String(from)} → ${conversion.to}`);
  }
  if (given.model !== undefined) await checkModelPath('convert', '--model', given.model);
  // Replacing what --out holds was decided above (--overwrite, or in place).
  const { tensors } = await conversion.convert(options.adapter, options.out, { ...given, overwrite: true });
  println((options.io ?? processIO()).stdout, `converted ${tensors} tensors: ${options.adapter} (${String(from)}) → ${options.out} (${conversion.to})`);
  return { out: options.out, tensors, from: String(from), to: conversion.to };
}

export const convertCommand = defineCommand(convertSyntax, async (values, io) => {
  const { adapter, out, to, rank, model, overwrite } = values;
  await runConvert({ adapter: adapter!, out: out!, ...(to === undefined ? {} : { to }), ...(rank === undefined ? {} : { rank }), ...(model === undefined ? {} : { model }), overwrite: overwrite ?? false, io });
  return 0;
});
