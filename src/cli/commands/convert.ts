/**
 * `bone convert --adapter BONE_DIR --out MISS_DIR`: a legacy Bone adapter (peft_type "BONE", which
 * PEFT removed in 0.19) becomes the equivalent MiSS adapter, as PEFT's convert-bone-to-miss.py does.
 */
import { convertBoneToMiss } from '../../peft/index.ts';
import { checkOptions, helpText, loadCommandLine, requireOptions, type CommandSyntax, type OptionSpecs } from '../args.ts';
import type { Command } from '../command.ts';
import { println, processIO, type CliIO } from '../io.ts';
import { checkAdapterPath, checkOutputFolder } from '../paths.ts';

export const convertSyntax = {
  name: 'convert',
  summary: 'Convert a Bone adapter (PEFT ≤ 0.18, peft_type "BONE") into the equivalent MiSS adapter that PEFT ≥ 0.19 reads.',
  usage: '--adapter DIR --out DIR',
  notes: 'The math is identical (MiSS default ≡ Bone default, MiSS bat ≡ Bone bat): tensor keys change\n.bone_ → .miss_ and peft_type becomes "MISS". --out may equal --adapter (converts in place).',
  options: {
    adapter: { kind: 'path', required: true, valueName: 'DIR', description: 'the Bone adapter folder to convert' },
    out: { kind: 'path', required: true, valueName: 'DIR', description: 'the folder to write the MiSS adapter to' },
  },
} as const satisfies CommandSyntax<OptionSpecs>;

export interface ConvertOptions {
  adapter: string;
  out: string;
  io?: CliIO;
}

export interface ConvertResult {
  out: string;
  tensors: number;
}

export async function runConvert(options: ConvertOptions): Promise<ConvertResult> {
  const values = checkOptions(convertSyntax, options, 'runConvert options');
  requireOptions(convertSyntax, values);
  await checkAdapterPath('convert', '--adapter', options.adapter);
  await checkOutputFolder('convert', '--out', options.out);
  const { tensors } = await convertBoneToMiss(options.adapter, options.out);
  println((options.io ?? processIO()).stdout, `converted ${tensors} tensors: ${options.adapter} (BONE) → ${options.out} (MISS)`);
  return { out: options.out, tensors };
}

export const convertCommand: Command = {
  syntax: convertSyntax,
  async main(argv, io) {
    const { help, values } = await loadCommandLine(convertSyntax, argv);
    if (help) { println(io.stdout, helpText(convertSyntax)); return 0; }
    requireOptions(convertSyntax, values);
    await runConvert({ adapter: values.adapter!, out: values.out!, io });
    return 0;
  },
};
