/**
 * Which tokens of an encoding cover given character ranges of its text: transformers' assistant
 * mask marks the tokens from `char_to_token(start)` through `char_to_token(end - 1)`, reading the
 * Rust tokenizer's offsets. @huggingface/tokenizers returns no offsets, so they are rebuilt here by
 * aligning each token's bytes with the text's UTF-8 bytes: a byte-level BPE token's string maps
 * back to bytes through GPT-2's byte alphabet, a sentencepiece-style token's `▁` is a space and
 * `<0xNN>` a byte, and an added token is its content. Spaces that a Metaspace pre-tokenizer adds
 * (the `▁` it prepends) have no counterpart in the text and take no width.
 *
 * When the bytes do not line up (a normalizer that changes the text, such as NFC on decomposed
 * accents or lowercasing), each range's ends are found instead by encoding the text up to them
 * and comparing with the whole encoding, as TRL does for prompt-completion boundaries; that is
 * exact except where pre-tokenization looks across the end (a run of spaces).
 */
import type { CharSpan } from './chat-spans.ts';

/** How the vocabulary's token strings spell bytes. */
export type TokenSpelling = 'byte-level' | 'metaspace' | 'plain';

/** What the alignment needs of a tokenizer. */
export interface TokenBytesSource {
  readonly spelling: TokenSpelling;
  /** Token string of an id, for vocabulary tokens. */
  tokenString(id: number): string | undefined;
  /** Content of an added token (special or not), which the model never splits into bytes. */
  addedTokenContent(id: number): string | undefined;
  /** Encodes text without the post-processor's special tokens. */
  encode(text: string): number[];
}

const encoder = new TextEncoder();

/** Whether a tokenizer.json section (a pre-tokenizer, decoder or normalizer, or a Sequence of them) has a part of `type`. */
function hasPart(section: unknown, type: string): boolean {
  if (section === null || typeof section !== 'object') return false;
  const part = section as { type?: unknown; pretokenizers?: unknown; decoders?: unknown; normalizers?: unknown };
  if (part.type === type) return true;
  return [part.pretokenizers, part.decoders, part.normalizers].some((list) => Array.isArray(list) && list.some((p) => hasPart(p, type)));
}

/**
 * How tokenizer.json's vocabulary spells bytes: GPT-2's byte alphabet when a ByteLevel
 * pre-tokenizer or decoder is there (GPT-2, Llama 3, Qwen, SmolLM), sentencepiece's `▁` and
 * `<0xNN>` when a Metaspace pre-tokenizer or decoder or a `▁` Replace is (Llama 2, Mistral), else as is.
 */
export function tokenSpelling(tokenizerJson: Readonly<Record<string, unknown>>): TokenSpelling {
  const { pre_tokenizer: pre, decoder, normalizer } = tokenizerJson;
  if (hasPart(pre, 'ByteLevel') || hasPart(decoder, 'ByteLevel')) return 'byte-level';
  if (hasPart(pre, 'Metaspace') || hasPart(decoder, 'Metaspace') || JSON.stringify([normalizer, decoder]).includes('\u2581')) {
    return 'metaspace';
  }
  return 'plain';
}

/** GPT-2's bytes_to_unicode, inverted: the character a byte-level vocabulary uses → the byte. */
const BYTE_OF_CHAR: ReadonlyMap<string, number> = (() => {
  const map = new Map<string, number>();
  const printable = (b: number): boolean => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let next = 256;
  for (let b = 0; b < 256; b += 1) map.set(String.fromCodePoint(printable(b) ? b : next++), b);
  return map;
})();

/** The bytes a token stands for, or undefined when its string cannot be read in `spelling`. */
function tokenBytes(source: TokenBytesSource, id: number): Uint8Array | undefined {
  const added = source.addedTokenContent(id);
  if (added !== undefined) return encoder.encode(added);
  const token = source.tokenString(id);
  if (token === undefined) return undefined;
  if (source.spelling === 'byte-level') {
    const bytes = new Uint8Array(token.length);
    let n = 0;
    for (const c of token) {
      const b = BYTE_OF_CHAR.get(c);
      if (b === undefined) return undefined;
      bytes[n++] = b;
    }
    return bytes.subarray(0, n);
  }
  if (source.spelling === 'metaspace') {
    const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
    if (byte !== null) return Uint8Array.of(parseInt(byte[1]!, 16));
    return encoder.encode(token.replaceAll('\u2581', ' '));
  }
  return encoder.encode(token);
}

/**
 * For each token, the byte range of `text` it covers (start === end for a token with no
 * counterpart in the text), or undefined when the tokens' bytes do not spell the text.
 */
function alignTokens(text: Uint8Array, ids: readonly number[], source: TokenBytesSource): { start: number; end: number }[] | undefined {
  const ranges: { start: number; end: number }[] = [];
  let at = 0;
  for (const id of ids) {
    const bytes = tokenBytes(source, id);
    if (bytes === undefined) return undefined;
    let start = -1;
    for (const b of bytes) {
      if (at < text.length && text[at] === b) {
        if (start < 0) start = at;
        at += 1;
      } else if (!(source.spelling === 'metaspace' && b === 0x20)) {
        return undefined;
      }
    }
    ranges.push(start < 0 ? { start: at, end: at } : { start, end: at });
  }
  return at === text.length ? ranges : undefined;
}

/** UTF-8 byte offset of each UTF-16 index of `text` (and of its end). */
function byteOffsets(text: string): Uint32Array {
  const offsets = new Uint32Array(text.length + 1);
  let bytes = 0;
  for (let i = 0; i < text.length; i += 1) {
    offsets[i] = bytes;
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code < 0xdc00 && i + 1 < text.length) {
      offsets[i + 1] = bytes;
      bytes += 4;
      i += 1;
    } else {
      bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : 3;
    }
  }
  offsets[text.length] = bytes;
  return offsets;
}

/** Length of the common prefix of two id sequences. */
function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i += 1;
  return i;
}

/**
 * 1 for every token from the first through the last that overlaps one of `spans` (character
 * ranges of `text`, whose encoding is `ids`), 0 elsewhere: transformers' assistant mask. A token
 * that straddles a range's end counts as inside.
 */
export function maskOfCharSpans(text: string, ids: readonly number[], spans: readonly CharSpan[], source: TokenBytesSource): number[] {
  const mask = new Array<number>(ids.length).fill(0);
  const ranges = alignTokens(encoder.encode(text), ids, source);
  const offsets = ranges === undefined ? undefined : byteOffsets(text);
  for (const { start, end } of spans) {
    if (end <= start) continue;
    let first: number;
    let last: number;
    if (ranges !== undefined && offsets !== undefined) {
      const from = offsets[start]!;
      const to = offsets[end]!;
      first = ranges.findIndex((r) => r.end > from && r.end > r.start);
      last = ranges.findLastIndex((r) => r.start < to && r.end > r.start);
      if (first < 0 || last < first) continue;
    } else {
      first = commonPrefixLength(source.encode(text.slice(0, start)), ids);
      const through = source.encode(text.slice(0, end));
      const shared = commonPrefixLength(through, ids);
      last = (shared === through.length ? shared : shared + 1) - 1;
    }
    for (let t = first; t <= Math.min(last, ids.length - 1); t += 1) mask[t] = 1;
  }
  return mask;
}
