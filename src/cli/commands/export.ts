/**
 * `bone export --format FORMAT --model DIR --out PATH [--adapter DIR]`: write a model (with an
 * adapter merged in, if given) where another runtime can run it. Every output is written whole
 * under a temporary name and renamed into place, and an existing output is refused unless
 * --overwrite.
 */
import { basename, resolve } from 'node:path';
import { writeFolderAtomically } from '../../node/atomic.ts';
import { resolveModelFolder } from '../../io/model-folder.ts';
import { writeGgufModel, type GgufDType } from '../../export/gguf.ts';
import { writeGgufLora } from '../../export/gguf-lora.ts';
import { loadAdapterSource, loadExportSource } from '../../export/source.ts';
import { writeTransformersJsFolder, type OnnxWeightsDType } from '../../export/transformers-js.ts';
import {
  UsageError, checkOptions, requireOptions, type CommandSyntax, type OptionSpecs, type OptionValues,
} from '../args.ts';
import { ADAPTER_LOAD_OPTIONS, checkRecordedBase, withFlagAdvice } from '../adapter-load.ts';
import { defineCommand } from '../command.ts';
import { println, processIO, type CliIO } from '../io.ts';
import { checkAdapterPath, checkModelPath, isFile, isFolder } from '../paths.ts';
import { parseRankFlag } from './convert.ts';

/** Each format, where its output runs, and the --dtype values it takes (the first is the default). */
export const EXPORT_FORMATS = {
  onnx: {
    runsIn: 'transformers.js 4 in Node or the browser (a folder: config, tokenizer, onnx/model.onnx)',
    dtypes: ['fp32', 'fp16'],
    output: 'folder',
  },
  gguf: {
    runsIn: 'llama.cpp, ollama, LM Studio, node-llama-cpp (one .gguf file with the tokenizer; llama, qwen2, qwen3)',
    dtypes: ['f16', 'f32', 'q8_0'],
    output: 'file',
  },
  'gguf-lora': {
    runsIn: 'llama.cpp --lora, ollama ADAPTER, LM Studio: the adapter alone, on the base model\'s gguf (MiSS/Bone converted to LoRA)',
    dtypes: ['f32', 'f16'],
    output: 'file',
  },
} as const satisfies Record<string, { runsIn: string; dtypes: readonly string[]; output: 'folder' | 'file' }>;

export type ExportFormat = keyof typeof EXPORT_FORMATS;
const FORMAT_NAMES = Object.keys(EXPORT_FORMATS) as ExportFormat[];

export const EXPORT_OPTIONS = {
  format: { kind: 'choice', choices: FORMAT_NAMES, required: true, valueName: 'FORMAT', description: 'what to write (see Formats below)' },
  model: { kind: 'path', required: true, valueName: 'DIR', description: 'the model folder (or a repo id in the local cache)' },
  out: { kind: 'path', required: true, valueName: 'PATH', description: 'the folder (onnx) or file (gguf, gguf-lora) to write' },
  adapter: { kind: 'path', valueName: 'DIR', description: 'an adapter folder (PEFT format) to merge into the model on the way' },
  dtype: { kind: 'list', valueName: 'TYPE', description: 'weight precision: onnx fp32 (default), fp16 or both (fp32,fp16); gguf f16 (default), f32 or q8_0;\ngguf-lora f32 (default) or f16' },
  rank: { kind: 'string', valueName: 'N', description: 'gguf-lora of a bat adapter: the LoRA rank (an integer) or a share of the squared singular values (0.99)' },
  externalData: { kind: 'boolean', description: 'onnx: keep the weights in model.onnx_data files even under 2 GB (always above it)' },
  overwrite: { kind: 'boolean', description: 'replace --out if it exists (the old one stays until the new one is complete)' },
  ...ADAPTER_LOAD_OPTIONS,
} as const satisfies OptionSpecs;

export const exportSyntax = {
  name: 'export',
  summary: 'Export a model (optionally with an adapter merged) for another runtime: transformers.js, llama.cpp.',
  usage: '--format FORMAT --model DIR --out PATH [--adapter DIR] [options]',
  options: EXPORT_OPTIONS,
  notes: [
    'Formats:',
    ...FORMAT_NAMES.map((f) => `  ${f.padEnd(10)}${EXPORT_FORMATS[f].runsIn}`),
    '',
    'Examples:',
    '  bone export --format onnx --model ./SmolLM2-135M --adapter ./run --out ./smollm-onnx',
    '  bone export --format gguf --model ./SmolLM2-135M --adapter ./run --dtype q8_0 --out ./smollm-q8_0.gguf',
    '  bone export --format gguf-lora --model ./SmolLM2-135M --adapter ./run --out ./run-lora.gguf',
  ].join('\n'),
} as const satisfies CommandSyntax<OptionSpecs>;

export type ExportOptions = OptionValues<typeof EXPORT_OPTIONS> & { format: ExportFormat; model: string; out: string; io?: CliIO };

export interface ExportResult {
  out: string;
  format: ExportFormat;
  /** Files written, relative to --out for a folder. */
  files: string[];
  seconds: number;
}

function dtypesFor(format: ExportFormat, given: readonly string[] | undefined): string[] {
  const allowed: readonly string[] = EXPORT_FORMATS[format].dtypes;
  const list = given && given.length > 0 ? [...new Set(given)] : [allowed[0]!];
  const bad = list.filter((d) => !allowed.includes(d));
  if (bad.length) throw new UsageError('export', `--dtype for --format ${format} expects ${allowed.join(', ')}, found ${bad.join(', ')}`);
  return list;
}

export async function runExport(options: ExportOptions): Promise<ExportResult> {
  const given = checkOptions(exportSyntax, options, 'runExport options');
  requireOptions(exportSyntax, given);
  const format = given.format!;
  const dtypes = dtypesFor(format, given.dtype);
  await checkModelPath('export', '--model', given.model!);
  if (given.adapter !== undefined) await checkAdapterPath('export', '--adapter', given.adapter);
  const out = given.out!;
  const existing = (await isFolder(out)) ? 'folder' : (await isFile(out)) ? 'file' : null;
  if (existing && !given.overwrite) throw new UsageError('export', `--out ${JSON.stringify(out)} already exists (a ${existing}); add --overwrite to replace it`);
  const output = EXPORT_FORMATS[format].output;
  if (existing && existing !== output) throw new UsageError('export', `--format ${format} writes a ${output}, found the ${existing} ${JSON.stringify(out)} at --out`);
  if (given.externalData && format !== 'onnx') throw new UsageError('export', `--external-data applies to --format onnx, found --format ${format}`);
  if (format === 'gguf-lora' && given.adapter === undefined) throw new UsageError('export', '--format gguf-lora writes an adapter: add --adapter DIR (and --model, its base model)');
  if (given.rank !== undefined && format !== 'gguf-lora') throw new UsageError('export', `--rank applies to --format gguf-lora, found --format ${format}`);
  const rank = given.rank === undefined ? undefined : parseRankFlag('export', given.rank);
  if (dtypes.length > 1 && format !== 'onnx') throw new UsageError('export', `--format ${format} writes one --dtype, found ${dtypes.join(', ')}`);
  if (resolve(out) === resolve(given.model!)) throw new UsageError('export', '--out must not be the model folder itself');
  const io = options.io ?? processIO();
  const warn = (m: string): void => println(io.stderr, `warning: ${m}`);
  const t0 = performance.now();
  const overwrite = given.overwrite ?? false;
  const allowKeyMismatch = given.allowKeyMismatch ?? false;
  if (given.adapter !== undefined) await checkRecordedBase(given.adapter, given.model!, await resolveModelFolder(given.model!), warn);
  if (format === 'gguf-lora') {
    const { peft, folder } = await withFlagAdvice(loadAdapterSource(given.model!, given.adapter!, { warn, allowKeyMismatch }));
    const r = await writeGgufLora(peft, folder, out, { dtype: dtypes[0] as 'f32' | 'f16', overwrite, ...(rank === undefined ? {} : { rank }) });
    const seconds = (performance.now() - t0) / 1000;
    const how = r.converted.length ? ` (converted to LoRA, ranks ${[...new Set(r.converted.map((l) => l.rank))].join(', ')}, largest relative error ${Math.max(...r.converted.map((l) => l.relativeError)).toExponential(2)})` : '';
    println(io.stdout, `exported the adapter ${given.adapter}${how} as gguf-lora (${r.pairs} LoRA pairs, alpha ${r.alpha}) to ${out} in ${seconds.toFixed(1)} s`);
    return { out, format, files: [basename(out)], seconds };
  }
  const source = await withFlagAdvice(loadExportSource(given.model!, { ...(given.adapter === undefined ? {} : { adapter: given.adapter }), warn, allowKeyMismatch }));
  let files: string[];
  if (format === 'onnx') {
    ({ files } = await writeFolderAtomically(out, (dir) => writeTransformersJsFolder(source, dir, {
      dtypes: dtypes as OnnxWeightsDType[], ...(given.externalData ? { externalDataThreshold: 0 } : {}),
    }), { overwrite }));
  } else {
    await writeGgufModel(source, out, { dtype: dtypes[0] as GgufDType, overwrite, warn });
    files = [basename(out)];
  }
  const seconds = (performance.now() - t0) / 1000;
  const merged = source.mergedLayers ? ` with ${source.mergedLayers} adapter layers of ${given.adapter} merged` : '';
  println(io.stdout, `exported ${given.model}${merged} as ${format} (${dtypes.join(', ')}) to ${out} in ${seconds.toFixed(1)} s: ${files.join(', ')}`);
  return { out, format, files, seconds };
}

export const exportCommand = defineCommand(exportSyntax, async (values, io) => {
  await runExport({ ...values, format: values.format!, model: values.model!, out: values.out!, io });
  return 0;
});
