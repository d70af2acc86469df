/**
 * A fast non-cryptographic hash of a string, for names derived from a graph's cache key (a dumped
 * graph's file name): stable across runs and platforms, which is all it needs to be (the cache
 * itself is keyed by the full string). Two 32-bit FNV-1a lanes with different offsets, mixed at the
 * end (murmur3's finaliser), give 64 bits; a graph key is ASCII, so char codes are its bytes.
 */
export function hashText(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return hex(finalise(a ^ Math.imul(b, 0x27d4eb2d))) + hex(finalise(b ^ a));
}

function finalise(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
