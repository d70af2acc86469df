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
  /** A tied output embedding was untied, because the adapter trained lm_head as modules_to_save (as PEFT's merge does). */
  untiedEmbeddings: boolean;
}

export interface LoadExportSourceOptions {
  /** A PEFT adapter folder to merge into the model on the way. */
  adapter?: string;
  warn?: (message: string) => void;
  /** Load an adapter whose tensors do not all match its layers, with PEFT's warnings (LoadAdapterOptions). */
  allowKeyMismatch?: boolean;
}

export async function loadExportSource(modelPathOrRepoId: string, opts: LoadExportSourceOptions = {}): Promise<ExportSource> {
  const folder = await resolveModelFolder(modelPathOrRepoId);
  let model = await loadModel(modelPathOrRepoId);
  let mergedLayers = 0;
  const tied = model.config.tie_word_embeddings;
  if (opts.adapter !== undefined) {
    const peft = await PeftModel.fromPretrained(model, opts.adapter, { ...(opts.warn ? { warn: opts.warn } : {}), allowKeyMismatch: opts.allowKeyMismatch ?? false });
    mergedLayers = peft.adapterLayers().length;
    // safeMerge: a merge that produces a non-finite weight fails before anything is written.
    model = await peft.mergeAndUnload({ safeMerge: true });
  }
  model.eval();
  return { model, folder, mergedLayers, untiedEmbeddings: tied && !model.config.tie_word_embeddings };
}

/** The model with an adapter loaded but not merged (for exporting the adapter alone). */
export async function loadAdapterSource(
  modelPathOrRepoId: string, adapter: string, opts: { warn?: (message: string) => void; allowKeyMismatch?: boolean } = {},
): Promise<{ peft: PeftModel<CausalLM>; folder: string }> {
  const folder = await resolveModelFolder(modelPathOrRepoId);
  const peft = await PeftModel.fromPretrained(await loadModel(modelPathOrRepoId), adapter, { ...(opts.warn ? { warn: opts.warn } : {}), allowKeyMismatch: opts.allowKeyMismatch ?? false });
  peft.eval();
  return { peft, folder };
}
