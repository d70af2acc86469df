/**
 * A character-level tokenizer in Hugging Face's tokenizer.json format, for the demo model: a BPE
 * model whose vocabulary is one token per character and whose merge list is empty (so every
 * character stays its own token), no normalizer or pre-tokenizer (spaces and newlines are tokens
 * like any other), a Fuse decoder (tokens are joined back without separators), and
 * `<|endoftext|>` as the one special token (id 0), used as EOS and padding.
 *
 * Why BPE and not WordLevel: loadTokenizer (src/io/tokenizer.ts) runs BPE models; a BPE without
 * merges is exactly a character vocabulary, and Python's `tokenizers`/transformers load it too.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeTextAtomically } from '../src/node/index.ts';
import { CHARACTERS, EOS_TOKEN } from './tiny-world.ts';

/** The token ids: EOS first, then the characters in CHARACTERS order. */
export function characterVocabulary(): Map<string, number> {
  return new Map([EOS_TOKEN, ...CHARACTERS].map((token, id) => [token, id]));
}

const EOS_ADDED_TOKEN = { content: EOS_TOKEN, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };

export function tokenizerJson(): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: 0, ...EOS_ADDED_TOKEN }],
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: 'Fuse' },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab: Object.fromEntries(characterVocabulary()), merges: [],
    },
  };
}

export function tokenizerConfigJson(modelMaxLength: number): Record<string, unknown> {
  return {
    added_tokens_decoder: { 0: EOS_ADDED_TOKEN },
    bos_token: null,
    clean_up_tokenization_spaces: false,
    eos_token: EOS_TOKEN,
    model_max_length: modelMaxLength,
    pad_token: EOS_TOKEN,
    padding_side: 'right',
    tokenizer_class: 'PreTrainedTokenizerFast',
    unk_token: null,
  };
}

/** Write tokenizer.json and tokenizer_config.json into a model folder. */
export async function writeCharTokenizer(dir: string, modelMaxLength: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeTextAtomically(join(dir, 'tokenizer.json'), `${JSON.stringify(tokenizerJson(), null, 2)}\n`);
  await writeTextAtomically(join(dir, 'tokenizer_config.json'), `${JSON.stringify(tokenizerConfigJson(modelMaxLength), null, 2)}\n`);
}
