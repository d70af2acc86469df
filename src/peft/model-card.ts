/**
 * The README.md model card that PEFT's save_pretrained writes next to an adapter
 * (create_or_update_model_card): YAML metadata that the Hugging Face Hub reads (library_name
 * "peft", base_model, tags with `base_model:adapter:<base>`, pipeline_tag for causal-LM tasks),
 * then the card, ending with "### Framework versions" and "- PEFT <version>". PEFT fills Hugging
 * Face's template with "[More Information Needed]"; this card keeps the template's headings and
 * fills them with what is known: the method and its settings, the targets, how to load it in Python
 * and with `bone`, and, when written by a training run, its settings and final losses.
 *
 * A README.md that bone-peft did not write (the user's own card) is left alone.
 */
import { pathRef, type PathLike } from '../io/file-system.ts';
import { BONE_PEFT_VERSION } from '../version.ts';
import { PEFT_VERSION_WRITTEN, type PeftConfig } from './config.ts';
import type { PeftMethod } from './registry.ts';

export const MODEL_CARD_NAME = 'README.md';

/** The marker by which a card is known to be bone-peft's (so a later save may replace it). */
const MARKER = '<!-- written by bone-peft: a later save replaces this file; remove this line to keep your edits -->';


/** What a training run adds to the card: its settings and results as label/value rows. */
export interface ModelCardTraining {
  /** The training data, in a few words ("train.jsonl: 3,000 prompt-completion examples"). */
  data?: string;
  settings: readonly (readonly [string, string])[];
  results: readonly (readonly [string, string])[];
}

export interface ModelCardFacts {
  method: PeftMethod;
  config: PeftConfig;
  /** Elements of the adapter's tensors. */
  parameters: number;
  /** Adapter layers the adapter wraps. */
  layers: number;
  /** Other adapters saved in subfolders. */
  otherAdapters: readonly string[];
  training?: ModelCardTraining;
}

const yamlString = (s: string): string => (/^[\w./@:+-]+$/.test(s) && !/^[\d.+-]/.test(s) && !s.includes(': ') ? s : `'${s.replace(/'/g, "''")}'`);
const rows = (items: readonly (readonly [string, string])[]): string[] => ['| | |', '|---|---|', ...items.map(([k, v]) => `| ${k} | ${v.replace(/\|/g, '\\|')} |`)];

export function modelCardText(f: ModelCardFacts): string {
  const { method, config } = f;
  const base = config.baseModelNameOrPath;
  const tags = [...(base ? [`base_model:adapter:${base}`] : []), 'bone-peft', ...(method.modelCardTags ?? []), 'transformers'].sort();
  const targets = Array.isArray(config.targetModules) ? config.targetModules.join(', ') : String(config.targetModules);
  const lines = [
    '---',
    ...(base ? [`base_model: ${yamlString(base)}`] : []),
    'library_name: peft',
    ...(config.taskType === 'CAUSAL_LM' ? ['pipeline_tag: text-generation'] : []),
    'tags:',
    ...tags.map((t) => `- ${yamlString(t)}`),
    '---',
    MARKER,
    '',
    `# ${method.name} adapter${base ? ` for ${base}` : ''}`,
    '',
    `A ${method.name} adapter (PEFT peft_type "${config.peftType}") in the format of Python PEFT ${PEFT_VERSION_WRITTEN}, written by bone-peft ${BONE_PEFT_VERSION}.`,
    '',
    '## Model Details',
    '',
    '### Model Description',
    '',
    `- **Adapter method:** ${method.name} (${method.describe(config)}), r ${String((config as unknown as { r?: unknown }).r ?? '?')}`,
    `- **Adapted modules:** ${targets} (${f.layers} layers)`,
    `- **Adapter parameters:** ${f.parameters.toLocaleString('en-US')}`,
    ...(config.modulesToSave?.length ? [`- **Modules saved in full (modules_to_save):** ${config.modulesToSave.join(', ')}`] : []),
    `- **Finetuned from model:** ${base ?? '(not recorded)'}`,
    ...(f.otherAdapters.length ? [`- **Other adapters in this folder:** ${f.otherAdapters.join(', ')} (in subfolders of those names)`] : []),
    '',
    '## How to Get Started with the Model',
    '',
    '```python',
    'from transformers import AutoModelForCausalLM',
    'from peft import PeftModel',
    '',
    `base = AutoModelForCausalLM.from_pretrained(${JSON.stringify(base ?? 'BASE_MODEL')})`,
    'model = PeftModel.from_pretrained(base, "path/to/this/folder")',
    '```',
    '',
    'or, with bone-peft\'s command line:',
    '',
    '```sh',
    `bone generate --model ${base ?? 'BASE_MODEL'} --adapter path/to/this/folder --prompt "..."`,
    '```',
  ];
  if (f.training) {
    lines.push('', '## Training Details', '');
    if (f.training.data) lines.push('### Training Data', '', f.training.data, '');
    lines.push('### Training Procedure', '', '#### Training Hyperparameters', '', ...rows(f.training.settings), '');
    lines.push('### Results', '', ...rows(f.training.results));
  }
  lines.push('', '### Framework versions', '', `- PEFT ${PEFT_VERSION_WRITTEN}`, `- bone-peft ${BONE_PEFT_VERSION}`, '');
  return lines.join('\n');
}

/** Whether `dir` holds a README.md that bone-peft did not write (the user's own card, which a save keeps). */
export async function hasOthersCard(dir: PathLike): Promise<boolean> {
  const existing = await pathRef(dir).child(MODEL_CARD_NAME).readText().catch(() => null);
  return existing !== null && !existing.includes(MARKER);
}

/** Write the card into `dir`, unless a README.md that bone-peft did not write is there. Returns whether it wrote. */
export async function writeModelCard(dir: PathLike, text: string): Promise<boolean> {
  if (await hasOthersCard(dir)) return false;
  await pathRef(dir).child(MODEL_CARD_NAME).write(text);
  return true;
}
