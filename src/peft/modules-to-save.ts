/**
 * PEFT's ModulesToSaveWrapper: extra modules (often the head or an embedding) trained in full next
 * to the adapters, one copy per adapter, saved under the module's own keys
 * (`base_model.model.lm_head.weight`). Modules here are not generically copyable, so the wrapper
 * keeps per-adapter copies of the module's *parameters* (`modules_to_save.<adapter>.<param>`) and
 * runs the original module with those values swapped in. A lazy graph records each tensor when an
 * op is called, so the swap affects only this call — even when a parameter is tied to another
 * module (lm_head and embed_tokens), the other module keeps the original value.
 */
import { Module, Parameter } from '../nn/index.ts';
import { PeftError } from './errors.ts';

/** A plain module tree with the same paths as `source`, holding copies of its parameters. */
function mirror(source: Module): Module {
  const copy = new Module();
  for (const [name, p] of source.namedOwnParameters()) copy.registerParameter(name, new Parameter(p.value, { requiresGrad: false }));
  for (const [name, child] of source.namedChildren()) copy.registerModule(name, mirror(child));
  return copy;
}

export class ModulesToSaveWrapper extends Module {
  readonly original_module: Module;
  readonly modules_to_save: Module;
  readonly copies = new Map<string, Module>();
  activeAdapter: string | null = null;
  disabled = false;

  constructor(original: Module) {
    super();
    if (typeof (original as { forward?: unknown }).forward !== 'function') {
      throw new PeftError(`modules_to_save: ${original.constructor.name} has no forward() to wrap`);
    }
    this.original_module = this.registerModule('original_module', original);
    this.modules_to_save = this.registerModule('modules_to_save', new Module());
  }

  addAdapter(adapterName: string): void {
    const copy = mirror(this.original_module);
    this.modules_to_save.registerModule(adapterName, copy);
    this.copies.set(adapterName, copy);
  }

  deleteAdapter(adapterName: string): void {
    if (!this.copies.delete(adapterName)) return;
    // Modules cannot be unregistered: leave an empty module under the name.
    this.modules_to_save.registerModule(adapterName, new Module());
    if (this.activeAdapter === adapterName) this.activeAdapter = null;
  }

  /** The trainable copies of one adapter. */
  adapterParameters(adapterName: string): Parameter[] {
    return this.copies.get(adapterName)?.parameters() ?? [];
  }

  setAdapter(adapterName: string | null, trainable: boolean): void {
    this.activeAdapter = adapterName !== null && this.copies.has(adapterName) ? adapterName : null;
    for (const [name, copy] of this.copies) for (const p of copy.parameters()) p.requiresGrad = trainable && name === this.activeAdapter;
  }

  forward(...args: unknown[]): unknown {
    const run = (): unknown => (this.original_module as unknown as { forward(...a: unknown[]): unknown }).forward(...args);
    const copy = this.activeAdapter === null || this.disabled ? null : this.copies.get(this.activeAdapter);
    if (!copy) return run();
    const originals = this.original_module.namedParameters();
    const values = new Map(copy.namedParameters());
    const saved = originals.map(([, p]) => p.value);
    originals.forEach(([name, p]) => { p.value = values.get(name)!.value; });
    try {
      return run();
    } finally {
      originals.forEach(([, p], i) => { p.value = saved[i]!; });
    }
  }

  /** The module to put back on unload: the original, with the active adapter's values when `keepTrained`. */
  unwrap(keepTrained: boolean): Module {
    const copy = keepTrained && this.activeAdapter !== null ? this.copies.get(this.activeAdapter) : undefined;
    if (copy) {
      const values = new Map(copy.namedParameters());
      for (const [name, p] of this.original_module.namedParameters()) p.value = values.get(name)!.value;
    }
    return this.original_module;
  }
}
