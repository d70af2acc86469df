/** The model benchmark's workload, shared by the TypeScript side and (through the command line) bench/model_anchor.py. */

/** Forward: [batch, seq] token ids, logits for every position. */
export const FORWARD_SHAPE = [4, 256] as const;

/** Generation: greedy, batch 1, a prompt of random ids, a fixed number of new tokens (no EOS stop), with the key/value cache. */
export const GENERATION = { prompt: 32, newTokens: 64 } as const;
