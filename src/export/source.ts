/**
 * What every export starts from: a model folder, loaded, with an adapter merged into it when one is
 * given (as `bone merge` does), in eval mode.
 */
import { loadModel, resolveModelFolder } from '../io/model-folder.ts';
import type { CausalLM } from '../models/index.ts';
import { PeftModel } from '../peft/index.ts';

export interface ExportSource {
  /** The model, with the adapter (if any) merged into its weights. */
  model: CausalLM;
  /** The model's folder: tokenizer and generation config are read from here. */
  folder: string;
  /** Adapter layers merged (0 without an adapter). */
  mergedLayers: number;
}

export interface LoadExportSourceOptions {
  /** A PEFT adapter folder to merge into the model on the way. */
  adapter?: string;
  warn?: (message: string) => void;
}

export async function loadExportSource(modelPathOrRepoId: string, opts: LoadExportSourceOptions = {}): Promise<ExportSource> {
  const folder = await resolveModelFolder(modelPathOrRepoId);
  let model = await loadModel(modelPathOrRepoId);
  let mergedLayers = 0;
  if (opts.adapter !== undefined) {
    const peft = await PeftModel.fromPretrained(model, opts.adapter, opts.warn ? { warn: opts.warn } : {});
    mergedLayers = peft.adapterLayers().length;
    // safeMerge: a merge that produces a non-finite weight fails before anything is written.
    model = await peft.mergeAndUnload({ safeMerge: true });
  }
  model.eval();
  return { model, folder, mergedLayers };
}

/** The model with an adapter loaded but not merged (for exporting the adapter alone). */
export async function loadAdapterSource(modelPathOrRepoId: string, adapter: string, opts: { warn?: (message: string) => void } = {}): Promise<{ peft: PeftModel<CausalLM>; folder: string }> {
  const folder = await resolveModelFolder(modelPathOrRepoId);
  const peft = await PeftModel.fromPretrained(await loadModel(modelPathOrRepoId), adapter, opts.warn ? { warn: opts.warn } : {});
  peft.eval();
  return { peft, folder };
}
