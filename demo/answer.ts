/**
 * Greedy answers to a list of prompts, in batches (left-padded, as a decoder-only model needs), and
 * exact-match scoring. Used by the demo's evaluation and by the pretraining script's knowledge probe.
 */
import type { PretrainedTokenizer } from '../src/io/index.ts';
import { generate, type CausalLM } from '../src/models/index.ts';

export interface AnswerOptions {
  maxNewTokens: number;
  /** Prompts per generate call: one graph per (batch, prompt length) shape, so larger is faster. */
  batchSize?: number;
}

/**
 * The model's continuation of each prompt, up to the end-of-text token (not included). Prompts are
 * grouped by length so that little padding is needed.
 */
export async function greedyContinuations(model: CausalLM, tokenizer: PretrainedTokenizer, prompts: readonly string[], opts: AnswerOptions): Promise<string[]> {
  const eos = tokenizer.eosTokenId;
  const pad = tokenizer.padTokenId ?? eos;
  if (eos === undefined || pad === undefined) throw new Error('greedyContinuations: the tokenizer has no eos token');
  const batchSize = opts.batchSize ?? 64;
  const encoded = prompts.map((p) => tokenizer.encode(p));
  const order = encoded.map((_, i) => i).sort((a, b) => encoded[a]!.length - encoded[b]!.length);
  const out = new Array<string>(prompts.length);
  for (let start = 0; start < order.length; start += batchSize) {
    const rows = order.slice(start, start + batchSize);
    const width = Math.max(...rows.map((i) => encoded[i]!.length));
    const inputIds = rows.map((i) => [...new Array<number>(width - encoded[i]!.length).fill(pad), ...encoded[i]!]);
    const attentionMask = rows.map((i) => [...new Array<number>(width - encoded[i]!.length).fill(0), ...new Array<number>(encoded[i]!.length).fill(1)]);
    const { newTokens } = await generate(model, inputIds, { maxNewTokens: opts.maxNewTokens, attentionMask, eosTokenId: eos, padTokenId: pad });
    rows.forEach((i, r) => {
      const tokens = newTokens[r]!;
      const end = tokens.indexOf(eos);
      out[i] = tokenizer.decode(end < 0 ? tokens : tokens.slice(0, end));
    });
  }
  return out;
}

/**
 * The answer in a continuation: its first line, trimmed. Lenient on purpose (a model that answers
 * and then goes on to a new line still counts), so that "before" is not low for a technicality.
 */
export function firstLine(continuation: string): string {
  return continuation.split('\n')[0]!.trim();
}

export function isExactMatch(continuation: string, expected: string): boolean {
  return firstLine(continuation) === expected.trim();
}
