/**
 * BoneConfig (PEFT 0.14–0.18, peft_type "BONE") and MissConfig (PEFT 0.17+, peft_type "MISS"):
 * the same method, MiSS adding dropout on the adapter input and the `mini` mode.
 */
import {
  PeftConfig, SHARED_JSON_KEYS, sharedOptionsFromJSON, type JsonValue, type PeftConfigOptions,
} from '../config.ts';
import { PeftError } from '../errors.ts';

/** true = Bone/MiSS default (zeros), false = random (kaiming) init, 'bat' = block affine, 'mini' = MiSS mini. */
export type InitWeights = boolean | 'bat' | 'mini';

export interface BoneConfigOptions extends PeftConfigOptions {
  r?: number;
  initWeights?: boolean | 'bat';
}

export interface MissConfigOptions extends PeftConfigOptions {
  r?: number;
  initWeights?: InitWeights;
  miniR?: number;
  missDropout?: number;
}

function checkR(r: number, method: string): void {
  if (!Number.isInteger(r) || r <= 0) throw new PeftError(`\`r\` should be a positive integer value but the value passed is ${r} (${method})`);
}

export class BoneConfig extends PeftConfig {
  readonly peftType = 'BONE' as const;
  readonly prefix = 'bone_';
  r: number;
  initWeights: boolean | 'bat';

  constructor(o: BoneConfigOptions = {}) {
    super(o);
    this.r = o.r ?? 64;
    this.initWeights = o.initWeights ?? true;
    checkR(this.r, 'BoneConfig');
    if (typeof this.initWeights !== 'boolean' && this.initWeights !== 'bat') {
      throw new PeftError(`BoneConfig: initWeights must be true, false or 'bat', found ${JSON.stringify(this.initWeights)}`);
    }
  }

  get mode(): InitWeights { return this.initWeights; }

  protected methodFields(): Record<string, JsonValue> {
    return { init_weights: this.initWeights, r: this.r };
  }

  static fromJSON(o: Record<string, JsonValue>, warn: (msg: string) => void = console.warn): BoneConfig {
    warnUnknown(o, ['init_weights', 'r'], 'BoneConfig', warn);
    return new BoneConfig({ ...sharedOptionsFromJSON(o), r: o.r as number, initWeights: o.init_weights as boolean | 'bat' });
  }
}

export class MissConfig extends PeftConfig {
  readonly peftType = 'MISS' as const;
  readonly prefix = 'miss_';
  r: number;
  initWeights: InitWeights;
  miniR: number;
  missDropout: number;

  constructor(o: MissConfigOptions = {}) {
    super(o);
    this.r = o.r ?? 64;
    this.initWeights = o.initWeights ?? true;
    this.miniR = o.miniR ?? 1;
    this.missDropout = o.missDropout ?? 0;
    checkR(this.r, 'MissConfig');
    if (typeof this.initWeights !== 'boolean' && this.initWeights !== 'bat' && this.initWeights !== 'mini') {
      throw new PeftError(`MissConfig: initWeights must be true, false, 'bat' or 'mini', found ${JSON.stringify(this.initWeights)}`);
    }
    if (!Number.isInteger(this.miniR) || this.miniR <= 0) throw new PeftError(`MissConfig: miniR must be a positive integer, found ${this.miniR}`);
    if (!(this.missDropout >= 0 && this.missDropout < 1)) throw new PeftError(`MissConfig: missDropout must be in [0, 1), found ${this.missDropout}`);
  }

  get mode(): InitWeights { return this.initWeights; }

  protected methodFields(): Record<string, JsonValue> {
    return { init_weights: this.initWeights, mini_r: this.miniR, miss_dropout: this.missDropout, r: this.r };
  }

  protected override floatFields(): ReadonlySet<string> { return new Set(['miss_dropout']); }

  static fromJSON(o: Record<string, JsonValue>, warn: (msg: string) => void = console.warn): MissConfig {
    warnUnknown(o, ['init_weights', 'r', 'mini_r', 'miss_dropout'], 'MissConfig', warn);
    return new MissConfig({
      ...sharedOptionsFromJSON(o), r: o.r as number, initWeights: o.init_weights as InitWeights,
      miniR: (o.mini_r as number | undefined) ?? 1, missDropout: (o.miss_dropout as number | undefined) ?? 0,
    });
  }
}

/** PEFT drops unknown keys with a warning (forward compatibility). */
export function warnUnknown(o: Record<string, JsonValue>, own: readonly string[], cls: string, warn: (msg: string) => void): void {
  const known = new Set<string>([...SHARED_JSON_KEYS, ...own]);
  const unknown = Object.keys(o).filter((k) => !known.has(k));
  if (unknown.length) {
    warn(`Unexpected keyword arguments [${unknown.map((k) => `'${k}'`).join(', ')}] for class ${cls}, these are ignored. This probably means that you're loading a configuration file that was saved using a higher version of the library and additional parameters have been introduced since.`);
  }
}
