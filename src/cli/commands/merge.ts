/**
 * `bone merge --model DIR --adapter DIR --out DIR`: fold an adapter into the base weights and write
 * a plain transformers model folder (config.json + model.safetensors), which transformers, vLLM,
 * llama.cpp's converters and `bone generate` load without PEFT. The base folder's tokenizer and
 * generation config files are copied along, so the merged folder is complete on its own.
 */
import { resolve } from 'node:path';
import { loadExportSource } from '../../export/source.ts';
import { writeFolderAtomically } from '../../node/atomic.ts';
import { CONFIG_NAME, WEIGHTS_INDEX_NAME, WEIGHTS_NAME, copyCompanionFiles, parseShardSize, resolveModelFolder, savePretrained } from '../../io/model-folder.ts';
import {
  UsageError, checkOptions, requireOptions, type CommandSyntax, type OptionSpecs, type OptionValues,
} from '../args.ts';
import { defineCommand } from '../command.ts';
import { ADAPTER_LOAD_OPTIONS, checkRecordedBase, withFlagAdvice } from '../adapter-load.ts';
import { formatCount, plural, println, processIO, type CliIO } from '../io.ts';
import { OVERWRITE_OPTION, checkAdapterPath, checkModelPath, checkOutputFolder } from '../paths.ts';

export const MERGE_OPTIONS = {
  model: { kind: 'path', required: true, valueName: 'DIR', description: 'the base model folder the adapter was trained on (or a repo id in the local cache)' },
  adapter: { kind: 'path', required: true, valueName: 'DIR', description: 'the adapter folder (PEFT format, e.g. bone train\'s --out)' },
  out: { kind: 'path', required: true, valueName: 'DIR', description: 'the folder to write the merged model to' },
  maxShardSize: { kind: 'string', valueName: 'SIZE', description: 'split the weights into shards of at most SIZE (e.g. 2GB), as transformers does' },
  ...OVERWRITE_OPTION,
  ...ADAPTER_LOAD_OPTIONS,
} as const satisfies OptionSpecs;

export const mergeSyntax = {
  name: 'merge',
  summary: 'Merge an adapter into its base model and write a plain transformers model folder.',
  usage: '--model DIR --adapter DIR --out DIR',
  options: MERGE_OPTIONS,
} as const satisfies CommandSyntax<OptionSpecs>;

export type MergeOptions = OptionValues<typeof MERGE_OPTIONS> & { model: string; adapter: string; out: string; io?: CliIO };

export interface MergeResult {
  out: string;
  parameters: number;
  /** Adapter layers folded into the base weights. */
  mergedLayers: number;
  /** Files copied from the base folder (tokenizer, generation config). */
  copied: string[];
  /** The base's tied output embedding was untied (a modules_to_save copy of lm_head was merged). */
  untiedEmbeddings: boolean;
}

export async function runMerge(options: MergeOptions): Promise<MergeResult> {
  const given = checkOptions(mergeSyntax, options, 'runMerge options');
  requireOptions(mergeSyntax, given);
  await checkModelPath('merge', '--model', options.model);
  await checkAdapterPath('merge', '--adapter', options.adapter);
  if (given.maxShardSize !== undefined) {
    try {
      parseShardSize(given.maxShardSize);
    } catch {
      throw new UsageError('merge', `--max-shard-size expects a size such as 500MB or 2GB, found ${JSON.stringify(given.maxShardSize)}`);
    }
  }
  const io = options.io ?? processIO();
  const baseFolder = await resolveModelFolder(options.model);
  if (resolve(options.out) === resolve(baseFolder)) {
    throw new UsageError('merge', `--out must be a new folder, found the base model's own folder ${JSON.stringify(options.out)} (its weights would be overwritten)`);
  }
  await checkOutputFolder('merge', '--out', options.out, { holds: { what: 'a model', files: [CONFIG_NAME, WEIGHTS_NAME, WEIGHTS_INDEX_NAME] }, overwrite: given.overwrite });
  const warn = (m: string): void => println(io.stderr, `warning: ${m}`);
  await checkRecordedBase(options.adapter, options.model, baseFolder, warn);
  const { model: merged, mergedLayers, untiedEmbeddings } = await withFlagAdvice(loadExportSource(options.model, { adapter: options.adapter, warn, allowKeyMismatch: given.allowKeyMismatch ?? false }));
  // The whole folder in one atomic step: --out is the old folder or the complete merged one.
  const copied = await writeFolderAtomically(options.out, async (dir) => {
    await savePretrained(merged, dir, given.maxShardSize === undefined ? {} : { maxShardSize: given.maxShardSize });
    return copyCompanionFiles(baseFolder, dir);
  }, {
    overwrite: true,
    // Other files the folder holds stay; an earlier save's weights and index must not (they would shadow the new ones).
    keepOthers: (name) => !name.endsWith('.safetensors') && name !== WEIGHTS_INDEX_NAME && name !== CONFIG_NAME,
  });
  const parameters = merged.numParameters();
  // The base folder is only read: say where the result went, so that nobody thinks it was changed.
  println(io.stdout, `wrote the merged model to ${options.out}: ${options.model} with ${plural(mergedLayers, 'adapter layer')} of ${options.adapter} merged in (${formatCount(parameters)} parameters; ${options.model} itself is unchanged)`);
  // A trained modules_to_save copy of a tied head is untied by the merge (as PEFT does): say so next to the result.
  if (untiedEmbeddings) println(io.stdout, 'the output embedding (lm_head) was untied from the input embedding (embed_tokens): it holds the adapter\'s trained modules_to_save copy, so config.json says "tie_word_embeddings": false');
  if (copied.length) println(io.stdout, `copied from ${options.model}: ${copied.join(', ')}`);
  return { out: options.out, parameters, mergedLayers, copied, untiedEmbeddings };
}

export const mergeCommand = defineCommand(mergeSyntax, async (values, io) => {
  await runMerge({ ...values, model: values.model!, adapter: values.adapter!, out: values.out!, io });
  return 0;
});
