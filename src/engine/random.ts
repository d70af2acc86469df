/**
 * Seeded random numbers for tensor creation on the JavaScript side (PCG32, Box–Muller), and the
 * source of per-call seeds that in-graph randomness (dropout) is fed with.
 */

export class Generator {
  private state = 0n;
  private readonly inc: bigint;
  private spare: number | null = null;

  constructor(seed: number | bigint = 0) {
    this.inc = 0xda3e39cb94b95bdbn | 1n;
    this.state = 0n;
    this.nextUint32();
    this.state = (this.state + BigInt.asUintN(64, BigInt(seed))) & 0xffffffffffffffffn;
    this.nextUint32();
  }

  nextUint32(): number {
    const old = this.state;
    this.state = (old * 6364136223846793005n + this.inc) & 0xffffffffffffffffn;
    const xorshifted = Number(((old >> 18n) ^ old) >> 27n & 0xffffffffn);
    const rot = Number(old >> 59n);
    return ((xorshifted >>> rot) | (xorshifted << ((32 - rot) & 31))) >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of randomness. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  normal(): number {
    if (this.spare !== null) { const s = this.spare; this.spare = null; return s; }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Serializable state, so that training can checkpoint and resume its randomness. */
  getState(): { state: string; spare: number | null } {
    return { state: this.state.toString(), spare: this.spare };
  }

  setState(s: { state: string; spare: number | null }): void {
    this.state = BigInt(s.state);
    this.spare = s.spare;
  }
}

let defaultGenerator = new Generator(0);

export function manualSeed(seed: number): void {
  defaultGenerator = new Generator(seed);
}

export function getDefaultGenerator(): Generator {
  return defaultGenerator;
}
