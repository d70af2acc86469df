/**
 * PeftModel: a model with adapters injected, and everything PEFT's PeftModel/BaseTuner do with them
 * — add, activate, delete, disable, merge, unmerge, unload — with PEFT's module paths
 * (`base_model.model.<path>`) so that checkpoint keys line up with Python PEFT's.
 */
import { Tensor } from '../engine/index.ts';
import type { PathLike } from '../io/file-system.ts';
import { Linear, Module, Parameter } from '../nn/index.ts';
import { loadAdapterInto, peftFromPretrained, savePeftModel, type LoadAdapterOptions, type SaveAdapterOptions } from './adapter-folder.ts';
import type { PeftConfig } from './config.ts';
import { PeftError } from './errors.ts';
import { ModulesToSaveWrapper } from './modules-to-save.ts';
import { peftMethodOf } from './registry.ts';
import { selectTargets, type ModuleInfo } from './targets.ts';
import { AdapterLayer } from './tuner-layer.ts';

/** Any registered method's config (MissConfig, BoneConfig, LoraConfig, ...). */
export type AdapterConfig = PeftConfig;

/**
 * The saved key of an in-memory parameter name: the adapter-name component right after the
 * method's module (`miss_block.default` → `miss_block`, `lora_A.default.weight` → `lora_A.weight`).
 */
export function savedKey(name: string, prefix: string, adapterName: string): string | null {
  const parts = name.split('.');
  for (let i = 0; i < parts.length - 1; i++) {
    if (parts[i]!.startsWith(prefix) && parts[i + 1] === adapterName) return [...parts.slice(0, i + 1), ...parts.slice(i + 2)].join('.');
    // modules_to_save copies are saved under the module's own keys
    if (parts[i] === 'modules_to_save' && parts[i + 1] === adapterName) return [...parts.slice(0, i), ...parts.slice(i + 2)].join('.');
  }
  return null;
}

/**
 * The in-memory parameter name of a saved key (PEFT's set_peft_model_state_dict): the adapter name
 * goes back after the method's module, or after `modules_to_save` for keys under a wrapped module
 * (`wrapperPaths` are full paths such as `base_model.model.lm_head`).
 */
export function loadedName(key: string, prefix: string, adapterName: string, wrapperPaths: readonly string[] = []): string | null {
  const parts = key.split('.');
  for (let i = parts.length - 1; i >= 0; i--) {
    if (parts[i]!.startsWith(prefix)) return [...parts.slice(0, i + 1), adapterName, ...parts.slice(i + 1)].join('.');
  }
  const wrapper = wrapperPaths.find((w) => key.startsWith(`${w}.`));
  return wrapper ? `${wrapper}.modules_to_save.${adapterName}${key.slice(wrapper.length)}` : null;
}

/** What PeftModel needs to know about the model it wraps (every CausalLM here has these). */
export interface AdaptableModel extends Module {
  readonly config?: { model_type?: string; [k: string]: unknown };
  /** Where the model was loaded from (written as base_model_name_or_path). */
  nameOrPath?: string;
}

type ForwardInput<M> = M extends { forward(input: infer I): unknown } ? I : never;
type ForwardOutput<M> = M extends { forward(input: never): infer O } ? O : never;

/** The tuner level of PEFT's wrapper (MissModel, BoneModel, LoraModel): holds the model as `model`. */
export class TunerModel<M extends AdaptableModel> extends Module {
  readonly model: M;
  constructor(model: M) {
    super();
    this.model = this.registerModule('model', model);
  }
}

export interface PeftModelOptions {
  warn?: (message: string) => void;
}

export class PeftModel<M extends AdaptableModel = AdaptableModel> extends Module {
  readonly base_model: TunerModel<M>;
  readonly peftConfig = new Map<string, AdapterConfig>();
  activeAdapters: string[] = [];
  readonly warn: (message: string) => void;

  constructor(model: M, config: AdapterConfig, adapterName = 'default', opts: PeftModelOptions = {}) {
    super();
    this.warn = opts.warn ?? ((m) => console.warn(m));
    this.base_model = this.registerModule('base_model', new TunerModel(model));
    this.#inject(adapterName, config);
    this.setAdapter(adapterName);
  }

  /** The wrapped model, with adapter layers in place of its targeted Linear layers. */
  get model(): M { return this.base_model.model; }
  get peftType(): AdapterConfig['peftType'] { return [...this.peftConfig.values()][0]!.peftType; }
  get activeAdapter(): string { return this.activeAdapters[0]!; }

  forward(input: ForwardInput<M>): ForwardOutput<M> {
    const m = this.model as unknown as { forward?: (i: ForwardInput<M>) => ForwardOutput<M> };
    if (typeof m.forward !== 'function') throw new PeftError(`PeftModel.forward: the wrapped ${this.model.constructor.name} has no forward()`);
    return m.forward(input);
  }

  /** Every adapter layer with its path inside the wrapped model. */
  adapterLayers(): [string, AdapterLayer][] {
    return this.model.namedModules().filter((e): e is [string, AdapterLayer] => e[1] instanceof AdapterLayer);
  }

  /** Every modules_to_save wrapper with its path inside the wrapped model. */
  savedModules(): [string, ModulesToSaveWrapper][] {
    return this.model.namedModules().filter((e): e is [string, ModulesToSaveWrapper] => e[1] instanceof ModulesToSaveWrapper);
  }

  // ---- adapters ---------------------------------------------------------------------------------

  /**
   * Add an adapter (inactive, frozen) next to the existing ones; `setAdapter` activates it. As PEFT's
   * add_adapter, the other adapters keep their trainability (one loaded with isTrainable stays so).
   */
  addAdapter(adapterName: string, config: AdapterConfig): void {
    const before = this.#adapterParameters().map((p) => [p, p.requiresGrad] as const);
    this.#inject(adapterName, config);
    this.setAdapter(this.activeAdapters);
    for (const [p, flag] of before) p.requiresGrad = flag;
  }

  /** PEFT's set_requires_grad: switch gradients of the named adapters' tensors (layers and modules_to_save copies) on or off. */
  setRequiresGrad(adapterNames: string | readonly string[], requiresGrad = true): void {
    const names = typeof adapterNames === 'string' ? [adapterNames] : adapterNames;
    for (const n of names) if (!this.peftConfig.has(n)) throw new PeftError(`Adapter ${n} not found. Available adapters: ${[...this.peftConfig.keys()].join(', ')}`);
    for (const p of names.flatMap((n) => this.#adapterParameters(n))) p.requiresGrad = requiresGrad;
  }

  /** The tensors of one adapter (or of all), in adapter layers and modules_to_save copies. */
  #adapterParameters(adapterName?: string): Parameter[] {
    const out = new Set<Parameter>();
    for (const [, layer] of this.adapterLayers()) for (const n of layer.adapterNames()) if (adapterName === undefined || n === adapterName) for (const p of layer.adapterParameters(n)) out.add(p);
    for (const [, w] of this.savedModules()) for (const n of w.copies.keys()) if (adapterName === undefined || n === adapterName) for (const p of w.adapterParameters(n)) out.add(p);
    return [...out];
  }

  /** Activate one adapter or several (outputs add up for default/mini; BAT weights chain in order). */
  setAdapter(names: string | readonly string[]): void {
    const list = typeof names === 'string' ? [names] : [...names];
    for (const n of list) if (!this.peftConfig.has(n)) throw new PeftError(`Adapter ${n} not found. Available adapters: ${[...this.peftConfig.keys()].join(', ')}`);
    if (this.adapterLayers().some(([, l]) => l.merged)) {
      throw new PeftError('Adapter cannot be set when the model is merged. Unmerge the model first (await unmergeAdapter()).');
    }
    this.activeAdapters = list;
    const trainable = list.some((n) => !this.peftConfig.get(n)!.inferenceMode);
    for (const [, layer] of this.adapterLayers()) layer.setAdapter(list, trainable);
    // As PEFT: one modules_to_save copy is active, the first active adapter's.
    for (const [, w] of this.savedModules()) w.setAdapter(list[0] ?? null, trainable);
    this.#markOnlyAdaptersTrainable();
  }

  deleteAdapter(adapterName: string): void {
    if (!this.peftConfig.has(adapterName)) throw new PeftError(`Adapter ${adapterName} does not exist`);
    for (const [, layer] of this.adapterLayers()) if (layer.adapterNames().includes(adapterName)) layer.deleteAdapter(adapterName);
    for (const [, w] of this.savedModules()) w.deleteAdapter(adapterName);
    this.peftConfig.delete(adapterName);
    const remaining = this.activeAdapters.filter((a) => a !== adapterName);
    if (remaining.length === 0 && this.peftConfig.size > 0) {
      const next = [...this.peftConfig.keys()].sort()[0]!;
      this.warn(`Adapter ${adapterName} was active which is now deleted. Setting active adapter to ${next}.`);
      remaining.push(next);
    }
    this.activeAdapters = remaining;
    if (remaining.length) this.setAdapter(remaining);
  }

  /**
   * Run `fn` with every adapter layer bypassed (PEFT's disable_adapter context); merged adapters are
   * unmerged first. Inside, as in PEFT, no adapter tensor is trainable (a training step there would
   * otherwise move an adapter that does not take part in the forward). On exit each tensor gets back
   * the trainability it had: PEFT re-derives it from the active adapters instead, which makes an
   * adapter loaded for inference trainable afterwards; this keeps the caller's choice.
   */
  async withAdaptersDisabled<T>(fn: () => T | Promise<T>): Promise<T> {
    for (const [, layer] of this.adapterLayers()) if (layer.merged) await layer.unmerge(this.warn);
    const layers: { disabled: boolean }[] = [...this.adapterLayers(), ...this.savedModules()].map(([, l]) => l);
    const trainable = this.#adapterParameters().map((p) => [p, p.requiresGrad] as const);
    for (const l of layers) l.disabled = true;
    for (const [p] of trainable) p.requiresGrad = false;
    try {
      return await fn();
    } finally {
      for (const l of layers) l.disabled = false;
      for (const [p, flag] of trainable) p.requiresGrad = flag;
    }
  }

  // ---- merge / unload --------------------------------------------------------------------------

  /** Merge adapters (default: the active ones) into the base weights. */
  async mergeAdapter(adapterNames?: readonly string[], opts: { safeMerge?: boolean } = {}): Promise<void> {
    if (typeof adapterNames === 'string') throw new PeftError(`adapter_names should be a list of strings, got '${adapterNames as string}'.`);
    const names = adapterNames ?? this.activeAdapters;
    for (const [, layer] of this.adapterLayers()) await layer.merge(names, opts.safeMerge ?? false, this.warn);
  }

  async unmergeAdapter(): Promise<void> {
    for (const [, layer] of this.adapterLayers()) await layer.unmerge(this.warn);
  }

  /** Merge, then put each adapter layer's base Linear back: a plain model that transformers can load. */
  async mergeAndUnload(opts: { safeMerge?: boolean; adapterNames?: readonly string[] } = {}): Promise<M> {
    for (const [, layer] of this.adapterLayers()) {
      if (!layer.merged) await layer.merge(opts.adapterNames ?? this.activeAdapters, opts.safeMerge ?? false, this.warn);
    }
    return this.unload();
  }

  /**
   * Put each adapter layer's base Linear back without merging (adapters are dropped). modules_to_save
   * keep the active adapter's values (`keepModulesToSave: false`: the original values). A kept module
   * whose parameters are tied to another module (lm_head and embed_tokens) is untied, as PEFT's
   * merge_and_unload does: it gets its own parameter with the trained values, the other module keeps
   * the original one, and the config's tie_word_embeddings becomes false (so a saved folder says so).
   */
  unload(opts: { keepModulesToSave?: boolean } = {}): M {
    const keep = opts.keepModulesToSave ?? true;
    for (const [path, layer] of this.adapterLayers()) this.model.setSubmodule(path, layer.base_layer);
    const counts = new Map<Parameter, number>();
    for (const [, p] of this.model.namedParameters({ removeDuplicate: false })) counts.set(p, (counts.get(p) ?? 0) + 1);
    const untied: string[] = [];
    for (const [path, w] of this.savedModules()) {
      if (keep && w.activeAdapter !== null) {
        for (const [name, p] of w.original_module.namedParameters()) {
          if (counts.get(p)! < 2) continue;
          w.original_module.setParameter(name, new Parameter(p.value, { requiresGrad: p.requiresGrad }));
          untied.push(`${path}.${name}`);
        }
      }
      this.model.setSubmodule(path, w.unwrap(keep));
    }
    if (untied.length) {
      const config = this.model.config;
      if (config && typeof config.tie_word_embeddings === 'boolean') config.tie_word_embeddings = false;
      this.warn(`Input and output embeddings are no longer tied after merging. Setting \`tie_word_embeddings=False\` in the model config. (${untied.join(', ')} now hold${untied.length === 1 ? 's' : ''} the trained modules_to_save values; the modules ${untied.length === 1 ? 'it was' : 'they were'} tied to keep the original ones.)`);
    }
    return this.model;
  }

  // ---- state (PEFT's get/set_peft_model_state_dict) -----------------------------------------------

  /** One adapter's tensors keyed as PEFT saves them (no adapter name in the keys). */
  state(adapterName: string = this.activeAdapter): Map<string, Tensor> {
    const config = this.#config(adapterName);
    const prefix = peftMethodOf(config).prefix;
    const out = new Map<string, Tensor>();
    for (const [name, p] of this.namedParameters()) {
      const key = savedKey(name, prefix, adapterName);
      if (key !== null) out.set(key, p.value);
    }
    return out;
  }

  /**
   * Set one adapter's tensors from saved keys. Every shape is checked before anything is assigned,
   * so a bad state leaves the model as it was. Returns the keys that match no parameter of the
   * adapter and the adapter's parameters that got no tensor (PEFT warns about both; callers decide).
   */
  async loadState(tensors: ReadonlyMap<string, Tensor>, adapterName: string = this.activeAdapter, opts: { where?: string } = {}): Promise<{ missing: string[]; unexpected: string[] }> {
    const prefix = peftMethodOf(this.#config(adapterName)).prefix;
    const where = opts.where ?? `adapter ${adapterName}`;
    const params = new Map(this.namedParameters());
    const wrappers = this.savedModules().map(([p]) => `base_model.model.${p}`);
    const unexpected: string[] = [];
    const assignments: [Parameter, Tensor][] = [];
    const loaded = new Set<string>();
    for (const [key, t] of tensors) {
      const name = loadedName(key, prefix, adapterName, wrappers);
      const param = name === null ? undefined : params.get(name);
      if (!param || name === null) { unexpected.push(key); continue; }
      if (param.shape.join(',') !== t.shape.join(',')) {
        throw new PeftError(`${where}: tensor ${key} has shape [${t.shape.join(', ')}], but the adapter layer expects [${param.shape.join(', ')}] (r, mini_r or the model's dimensions differ from the checkpoint's)`);
      }
      assignments.push([param, t.dtype === param.value.dtype ? t : (await t.cast(param.value.dtype).realize()).detach()]);
      loaded.add(name);
    }
    for (const [param, value] of assignments) param.value = value;
    const missing = [...params.keys()].filter((n) => savedKey(n, prefix, adapterName) !== null && !loaded.has(n));
    return { missing, unexpected };
  }

  #config(adapterName: string): AdapterConfig {
    const config = this.peftConfig.get(adapterName);
    if (!config) throw new PeftError(`Adapter ${adapterName} does not exist (adapters: ${[...this.peftConfig.keys()].join(', ')})`);
    return config;
  }

  // ---- adapter folders (PEFT's format; see adapter-folder.ts) ------------------------------------

  /** Write adapter_config.json + adapter_model.safetensors per adapter (others in subfolders). */
  async savePretrained(dir: PathLike, opts: SaveAdapterOptions = {}): Promise<string[]> {
    return savePeftModel(this, dir, opts);
  }

  /** Load another adapter folder next to the existing adapters (inactive until setAdapter). */
  async loadAdapter(dir: PathLike, adapterName: string, opts: Omit<LoadAdapterOptions, 'adapterName'> = {}): Promise<void> {
    return loadAdapterInto(this, dir, adapterName, opts);
  }

  /** PEFT's PeftModel.from_pretrained: `model` with the adapter saved in `dir` (frozen unless isTrainable). */
  static async fromPretrained<M extends AdaptableModel>(model: M, dir: PathLike, opts: LoadAdapterOptions = {}): Promise<PeftModel<M>> {
    return peftFromPretrained(model, dir, opts);
  }

  // ---- parameters -------------------------------------------------------------------------------

  /** The trainable tensors (the active adapters' blocks), with their PEFT names. */
  trainableParameters(): [string, Parameter][] {
    return this.namedParameters().filter(([, p]) => p.requiresGrad);
  }

  /** PEFT's print_trainable_parameters line; also returned with the counts. */
  printTrainableParameters(log: (line: string) => void = console.log): { trainable: number; all: number; line: string } {
    const params = this.namedParameters();
    const all = params.reduce((n, [, p]) => n + p.size, 0);
    const trainable = params.filter(([, p]) => p.requiresGrad).reduce((n, [, p]) => n + p.size, 0);
    const line = `trainable params: ${trainable.toLocaleString('en-US')} || all params: ${all.toLocaleString('en-US')} || trainable%: ${(100 * trainable / all).toFixed(4)}`;
    log(line);
    return { trainable, all, line };
  }

  #markOnlyAdaptersTrainable(): void {
    const prefixes = new Set([...this.peftConfig.values()].map((c) => peftMethodOf(c).prefix));
    const adapterParams = new Set(this.#adapterParameters());
    for (const [name, p] of this.namedParameters()) {
      if (!adapterParams.has(p) && ![...prefixes].some((pre) => name.includes(pre))) p.requiresGrad = false;
    }
  }

  // ---- injection --------------------------------------------------------------------------------

  #wrapModulesToSave(adapterName: string, config: AdapterConfig, inside: ReadonlySet<Module>): void {
    const entries = config.modulesToSave ?? [];
    if (entries.length === 0) return;
    const model = this.model;
    const candidates = model.namedModules().filter(([, m]) => !inside.has(m) && !(m instanceof AdapterLayer)).map(([p]) => p);
    const paths = modulesToSaveMatches(candidates, entries);
    for (const e of entries) {
      if (!paths.some((p) => p.endsWith(e))) throw new PeftError(`modules_to_save entry "${e}" matches no module of the model (module paths end with e.g. ${candidates.slice(-3).join(', ')})`);
    }
    // A wrapper's own path also ends with the entry: wrap outermost matches only.
    for (const path of paths.filter((p) => !paths.some((q) => q !== p && p.startsWith(`${q}.`)))) {
      const target = model.getSubmodule(path);
      const wrapper = target instanceof ModulesToSaveWrapper ? target : new ModulesToSaveWrapper(target);
      wrapper.addAdapter(adapterName);
      if (wrapper !== target) model.setSubmodule(path, wrapper);
    }
  }

  #inject(adapterName: string, config: AdapterConfig): void {
    if (!/^[^.]+$/.test(adapterName)) throw new PeftError(`adapter name must be non-empty and contain no ".", found "${adapterName}"`);
    if (this.peftConfig.has(adapterName)) throw new PeftError(`Adapter with name ${adapterName} already exists. Choose another name or delete it first.`);
    const existing = [...this.peftConfig.values()][0];
    if (existing && existing.peftType !== config.peftType) {
      throw new PeftError(`cannot add a ${config.peftType} adapter "${adapterName}" to a model that has ${existing.peftType} adapters; mixing adapter types is not supported`);
    }
    const method = peftMethodOf(config);
    if (config.bias !== 'none' && [...this.peftConfig.values()].some((c) => c.bias !== 'none')) {
      throw new PeftError(`${method.modelName} supports only 1 adapter with bias. When using multiple adapters, set bias to 'none' for all adapters.`);
    }
    if (config.bias !== 'none') {
      throw new PeftError(`bias="${config.bias}" is not supported yet by bone-peft (PEFT does not save Bone/MiSS biases before its HEAD either); use bias "none"`);
    }
    const model = this.model;
    const modules: ModuleInfo[] = [];
    const inside = new Set<Module>();
    for (const [, m] of model.namedModules()) if (m instanceof AdapterLayer) for (const sub of m.modules()) if (sub !== m) inside.add(sub);
    // transformers' module tree, as PEFT matches targets over it: modules computed here without a
    // Module (act_fn) are listed too, so that a regex PEFT refuses is refused here, not narrowed.
    const absent = new Map<string, string>();
    for (const { path, className, module } of model.namedModuleTree()) {
      if (module === null) absent.set(path, className);
      else if (inside.has(module)) continue;
      modules.push({ name: path, isLinear: module instanceof Linear || module instanceof AdapterLayer });
    }
    const modelType = String(model.config?.model_type ?? '');
    const hasHead = modules.some((m) => m.name === 'lm_head');
    const { targets, names } = selectTargets(config, modules, { modelType, outputEmbedding: hasHead ? 'lm_head' : null, warn: this.warn });
    // All or nothing: a target that fails (an r its shape does not allow) undoes the layers done before it.
    const done: { name: string; layer: AdapterLayer; created: boolean }[] = [];
    try {
      for (const name of names) {
        if (absent.has(name)) {
          throw new PeftError(`Target module ${name} (${absent.get(name)}) is not supported. Currently, only \`Linear\` is supported. (PEFT refuses it too: transformers' model has this module, which bone-peft computes as a function; make target_modules match Linear layers only, e.g. ".*\\.(gate_proj|up_proj|down_proj)")`);
        }
        const target = model.getSubmodule(name);
        if (target instanceof AdapterLayer) {
          target.updateLayer(adapterName, config);
          done.push({ name, layer: target, created: false });
          continue;
        }
        if (!(target instanceof Linear)) {
          throw new PeftError(`Target module ${name} (${target.constructor.name}) is not supported. Currently, only \`Linear\` is supported.`);
        }
        const layer = method.createLayer(target);
        layer.updateLayer(adapterName, config);
        layer.training = target.training;
        model.setSubmodule(name, layer);
        done.push({ name, layer, created: true });
      }
    } catch (e) {
      for (const d of done.reverse()) {
        if (d.created) model.setSubmodule(d.name, d.layer.base_layer);
        else d.layer.deleteAdapter(adapterName);
      }
      const failed = names[done.length]!;
      if (e instanceof PeftError && !e.message.startsWith(`Target module ${failed}`)) e.message = `${failed}: ${e.message}`;
      throw e;
    }
    this.#wrapModulesToSave(adapterName, config, inside);
    // As PEFT: the resolved targets are what the saved config lists (all-linear expands to full names).
    config.targetModules = targets;
    this.peftConfig.set(adapterName, config);
  }
}

/** The modules a modules_to_save entry names: PEFT's `key.endswith(entry)` over module paths. */
function modulesToSaveMatches(paths: readonly string[], entries: readonly string[]): string[] {
  return paths.filter((p) => p !== '' && entries.some((e) => p.endsWith(e)));
}

/** Wrap a model with a new adapter (PEFT's get_peft_model). */
export function getPeftModel<M extends AdaptableModel>(model: M, config: AdapterConfig, adapterName = 'default', opts: PeftModelOptions = {}): PeftModel<M> {
  return new PeftModel(model, config, adapterName, opts);
}
