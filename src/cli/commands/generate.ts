/**
 * `bone generate --model DIR [--adapter DIR] --prompt "..."`: print a completion. Greedy by
 * default (--temperature 0, the same tokens transformers' generate gives); with a temperature > 0
 * it samples (top-k, top-p) from a seeded generator. `--chat` wraps the prompt as a user message
 * in the tokenizer's chat template and opens the assistant's turn.
 */
import { loadTokenizer } from '../../io/tokenizer.ts';
import { loadPretrained, resolveModelFolder } from '../../io/model-folder.ts';
import { generate, type CausalLM } from '../../models/index.ts';
import {
  UsageError, checkOptions, requireOptions, withDefaults,
  type CommandSyntax, type OptionSpecs, type OptionValues,
} from '../args.ts';
import { ADAPTER_LOAD_OPTIONS, loadAdapterForCommand } from '../adapter-load.ts';
import { defineCommand } from '../command.ts';
import { println, processIO, type CliIO } from '../io.ts';
import { checkAdapterPath, checkModelPath, checkTokenizerPath } from '../paths.ts';

export const GENERATE_OPTIONS = {
  model: { kind: 'path', required: true, valueName: 'DIR', description: 'the model folder (base or merged; or a repo id in the local cache)' },
  prompt: { kind: 'string', required: true, valueName: 'TEXT', description: 'the text to continue (with --chat: the user\'s message)' },
  adapter: { kind: 'path', valueName: 'DIR', description: 'an adapter folder to apply to --model (PEFT format)' },
  tokenizer: { kind: 'path', valueName: 'DIR', description: 'tokenizer folder (default: the model folder)' },
  maxNewTokens: { kind: 'integer', min: 0, default: 64, valueName: 'N', description: 'tokens to generate at most (stops earlier at an end-of-sequence token)' },
  temperature: { kind: 'number', min: 0, default: 0, valueName: 'T', description: '0: greedy (deterministic); > 0: sample with this temperature' },
  topK: { kind: 'integer', min: 0, default: 50, valueName: 'K', description: 'when sampling, keep the K most likely tokens (0: all)' },
  topP: { kind: 'number', min: 0, max: 1, minExclusive: true, default: 1, valueName: 'P', description: 'when sampling, keep the smallest set of tokens with probability ≥ P' },
  seed: { kind: 'integer', min: 0, default: 0, valueName: 'N', description: 'seed for sampling' },
  chat: { kind: 'boolean', description: 'apply the chat template: the prompt is a user message, the completion the assistant\'s reply' },
  ...ADAPTER_LOAD_OPTIONS,
} as const satisfies OptionSpecs;

export const generateSyntax = {
  name: 'generate',
  summary: 'Generate a completion with a model, optionally with an adapter on top.',
  usage: '--model DIR [--adapter DIR] --prompt TEXT [options]',
  options: GENERATE_OPTIONS,
  notes: 'Examples:\n  bone generate --model ./SmolLM2-135M --adapter ./run --prompt "The capital of France is"\n  bone generate --model ./merged --chat --prompt "What is MiSS?" --max-new-tokens 128',
} as const satisfies CommandSyntax<OptionSpecs>;

export type GenerateCommandOptions = OptionValues<typeof GENERATE_OPTIONS> & {
  model: string;
  prompt: string;
  io?: CliIO;
  /** Print the completion to io.stdout (default true). */
  print?: boolean;
};

export interface GenerateResult {
  /** The generated text (special tokens left out). */
  text: string;
  /** The generated token ids, end-of-sequence included when it was reached. */
  tokens: number[];
  promptTokens: number[];
  /** Why generation stopped. */
  stoppedBy: 'eos' | 'max-new-tokens';
}

async function checkGenerateOptions(options: GenerateCommandOptions): Promise<OptionValues<typeof GENERATE_OPTIONS>> {
  const given = checkOptions(generateSyntax, options, 'runGenerate options');
  requireOptions(generateSyntax, given);
  await checkModelPath('generate', '--model', given.model!);
  if (given.adapter !== undefined) await checkAdapterPath('generate', '--adapter', given.adapter);
  if (given.tokenizer !== undefined) await checkTokenizerPath('generate', '--tokenizer', given.tokenizer);
  if ((given.temperature ?? 0) === 0 && (given.topK !== undefined || given.topP !== undefined)) {
    throw new UsageError('generate', `--top-k and --top-p apply when sampling: add --temperature (> 0), found --temperature ${given.temperature ?? 0} (greedy)`);
  }
  return withDefaults(generateSyntax, given);
}

export async function runGenerate(options: GenerateCommandOptions): Promise<GenerateResult> {
  const o = await checkGenerateOptions(options);
  const io = options.io ?? processIO();
  const { model: base, tokenizer: bundled } = await loadPretrained(o.model!);
  const tokenizer = o.tokenizer !== undefined ? await loadTokenizer(o.tokenizer) : bundled;
  if (tokenizer === null) throw new UsageError('generate', `--model ${o.model} has no tokenizer.json: add --tokenizer DIR`);
  let model: CausalLM = base;
  if (o.adapter !== undefined) {
    const modelFolder = await resolveModelFolder(o.model!);
    const peft = await loadAdapterForCommand(base, { ...o, model: o.model!, modelFolder, adapter: o.adapter }, (m) => println(io.stderr, `warning: ${m}`));
    // The adapter layers stay in place (unmerged): generation then exercises the same forward as training.
    model = peft.model;
  }
  model.eval();
  const promptTokens = o.chat
    ? tokenizer.applyChatTemplate([{ role: 'user', content: o.prompt! }], { addGenerationPrompt: true })
    : tokenizer.encode(o.prompt!);
  if (promptTokens.length === 0) throw new UsageError('generate', '--prompt expects text that encodes to at least one token, found an empty prompt');
  const eos = tokenizer.eosTokenIds.length > 0 ? [...tokenizer.eosTokenIds] : undefined;
  const out = await generate(model, [promptTokens], {
    maxNewTokens: o.maxNewTokens!, doSample: o.temperature! > 0, temperature: o.temperature! > 0 ? o.temperature : 1,
    topK: o.topK, topP: o.topP, seed: o.seed, ...(eos ? { eosTokenId: eos } : {}),
  });
  const tokens = out.newTokens[0]!;
  const eosIds = new Set(eos ?? [model.config.eos_token_id].flat().filter((x): x is number => typeof x === 'number'));
  const stoppedBy = tokens.length > 0 && eosIds.has(tokens[tokens.length - 1]!) ? 'eos' : 'max-new-tokens';
  const text = tokenizer.decode(tokens, { skipSpecialTokens: true });
  if (options.print ?? true) println(io.stdout, text);
  return { text, tokens, promptTokens, stoppedBy };
}

export const generateCommand = defineCommand(generateSyntax, async (values, io) => {
  await runGenerate({ ...values, model: values.model!, prompt: values.prompt!, io });
  return 0;
});
