/**
 * node-llama-cpp for the GGUF tests, behind the few calls they make. It is installed by CI and by
 * `npm run test:llama-cpp`, not by `npm install` (docs/design.md, "Testing GGUF files"), so it is
 * imported through a variable specifier (the type-check must pass without it) and typed here.
 */

/** Token ids are plain numbers here (node-llama-cpp brands them). */
export interface LlamaCppModel {
  tokenize(text: string): number[];
  detokenize(tokens: readonly number[]): string;
  /** `count` tokens by greedy decoding after `prompt`, whatever they are (end-of-generation tokens included). */
  greedy(prompt: readonly number[], count: number): Promise<number[]>;
  /** exp(mean −log p(next token)) over `ids`, from llama.cpp's own probabilities (no sampling filters). */
  perplexity(ids: readonly number[]): Promise<number>;
}

export interface GgufMetadataView {
  general: { architecture: string; type: string; file_type?: number; [k: string]: unknown };
  tokenizer: { ggml: { pre: string; tokens: string[]; [k: string]: unknown }; chat_template?: string };
  adapter?: { type: string; lora: { alpha: number } };
  [k: string]: unknown;
}

export interface LlamaCpp {
  loadModel(path: string, opts?: { lora?: string }): Promise<LlamaCppModel>;
  /** The file's metadata as node-llama-cpp's own GGUF reader parses it. */
  metadata(path: string): Promise<GgufMetadataView>;
  dispose(): Promise<void>;
}

const SPECIFIER = 'node-llama-cpp';
export const INSTALL_COMMAND = 'npm run test:llama-cpp';

/* eslint-disable @typescript-eslint/no-explicit-any -- node-llama-cpp is untyped here on purpose (see above) */
async function importIt(): Promise<any> {
  return import(SPECIFIER);
}

export const llamaCpp = {
  /** null when node-llama-cpp can be imported; else why not (for `skip`). With BONE_REQUIRE_LLAMA_CPP=1 (.ci/run) its absence is an error. */
  async available(): Promise<string | null> {
    try {
      await importIt();
      return null;
    } catch (e) {
      const why = `node-llama-cpp is not installed (${(e as Error).message.split('\n')[0]}); run \`${INSTALL_COMMAND}\` to install it and run the GGUF tests`;
      if (process.env.BONE_REQUIRE_LLAMA_CPP === '1') throw new Error(`BONE_REQUIRE_LLAMA_CPP=1: the GGUF tests must run, but ${why}`, { cause: e });
      return why;
    }
  },

  async load(): Promise<LlamaCpp> {
    const nlc = await importIt();
    const llama = await nlc.getLlama({ gpu: false, build: 'never', logLevel: nlc.LlamaLogLevel.error });
    const loaded: any[] = [];
    return {
      async loadModel(path, opts = {}) {
        const model = await llama.loadModel({ modelPath: path });
        const context = await model.createContext({ contextSize: 256, threads: 1, ...(opts.lora ? { lora: { adapters: [{ filePath: opts.lora }] } } : {}) });
        loaded.push(context, model);
        const sequence = context.getSequence();
        return {
          tokenize: (text) => [...model.tokenize(text)] as number[],
          detokenize: (tokens) => model.detokenize(tokens as any),
          async greedy(prompt, count) {
            await sequence.clearHistory();
            const out: number[] = [];
            let input: any[] = [...prompt];
            for (let i = 0; i < count; i++) {
              const items = input.map((t, k) => (k === input.length - 1 ? [t, { generateNext: { token: true, options: { temperature: 0 } } }] : t));
              const result = await sequence.controlledEvaluate(items);
              const next = result[result.length - 1].next.token as number;
              out.push(next);
              input = [next];
            }
            return out;
          },
          async perplexity(ids) {
            await sequence.clearHistory();
            const options = { temperature: 1, topK: 0, topP: 1, minP: 0 };
            const result = await sequence.controlledEvaluate(ids.map((t) => [t, { generateNext: { probabilities: true, options } }]));
            let nll = 0;
            for (let k = 0; k + 1 < ids.length; k++) nll -= Math.log(result[k].next.probabilities.get(ids[k + 1]) ?? 0);
            return Math.exp(nll / (ids.length - 1));
          },
        };
      },
      async metadata(path) {
        return (await nlc.readGgufFileInfo(path)).metadata as GgufMetadataView;
      },
      async dispose() {
        for (const x of loaded) await x.dispose();
        await llama.dispose();
      },
    };
  },
};
