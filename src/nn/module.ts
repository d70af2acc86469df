/**
 * The module tree, as torch.nn.Module builds it: every module registers its children and parameters
 * under names, so that paths (`model.layers.0.self_attn.q_proj`) and state-dict keys
 * (`model.layers.0.self_attn.q_proj.weight`) are exactly transformers'. PEFT's target rules and
 * checkpoint keys then line up without translation tables.
 *
 * The registries are the source of truth. Subclasses also keep typed fields for their children
 * (`this.q_proj = this.registerModule('q_proj', ...)`); `setSubmodule` updates both, like torch's
 * setattr, so that an adapter that wraps a Linear is what the parent calls at the next forward.
 */
import type { Tensor } from '../engine/index.ts';
import { ModuleError } from './errors.ts';
import { Parameter } from './parameter.ts';

/** A module whose forward maps one tensor to one tensor (Linear, and the adapter layers that wrap it). */
export interface TensorModule extends Module {
  forward(x: Tensor): Tensor;
}

export interface NamedParametersOptions {
  /** Prepended to every name (with a dot). */
  prefix?: string;
  /** Include the parameters of descendants (default true). */
  recurse?: boolean;
  /** Report a shared parameter (tied weights) once, under its first name (default true, as torch). */
  removeDuplicate?: boolean;
}

export interface LoadStateDictOptions {
  /** Throw on missing or unexpected keys (default true). Shape and dtype mismatches always throw. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

const join = (prefix: string, name: string): string => (prefix ? `${prefix}.${name}` : name);

/** Shorten long key lists in error messages. */
function listKeys(keys: readonly string[], max = 20): string {
  const shown = keys.slice(0, max).join(', ');
  return keys.length > max ? `${shown}, … (${keys.length} in all)` : shown;
}

export class Module {
  /** Training mode (dropout on); `eval()` turns it off for the whole tree. */
  training = true;
  readonly #modules = new Map<string, Module>();
  readonly #parameters = new Map<string, Parameter | null>();
  /** Modules transformers' class has that this one computes without a Module, by name: their class names. */
  readonly #absent = new Map<string, string>();

  // ---- registration -------------------------------------------------------------------------------

  /** Register (or replace) a child module under `name`; returns it, for `this.x = this.registerModule('x', ...)`. */
  registerModule<M extends Module>(name: string, module: M): M {
    this.#checkName(name, 'module');
    if (this.#parameters.has(name)) throw new ModuleError(`${this.constructor.name}: "${name}" is already a parameter, cannot register a module under that name`);
    if (!(module instanceof Module)) throw new ModuleError(`${this.constructor.name}.registerModule("${name}"): expected a Module`);
    this.#modules.set(name, module);
    return module;
  }

  /**
   * Register (or replace) a parameter under `name`. `null` records an absent optional parameter (a
   * Linear without bias), as torch does: it has a name but no state-dict entry.
   */
  registerParameter<P extends Parameter | null>(name: string, param: P): P {
    this.#checkName(name, 'parameter');
    if (this.#modules.has(name)) throw new ModuleError(`${this.constructor.name}: "${name}" is already a submodule, cannot register a parameter under that name`);
    if (param !== null && !(param instanceof Parameter)) throw new ModuleError(`${this.constructor.name}.registerParameter("${name}"): expected a Parameter or null`);
    this.#parameters.set(name, param);
    return param;
  }

  /** Remove a child module or parameter (torch's `del module.name`): it leaves the state dict and every traversal. */
  unregister(name: string): void {
    if (!this.#modules.delete(name) && !this.#parameters.delete(name)) {
      throw new ModuleError(`${this.constructor.name}: no submodule or parameter named "${name}" to remove`);
    }
  }

  #checkName(name: string, what: string): void {
    if (name === '' || name.includes('.')) {
      throw new ModuleError(`${this.constructor.name}: a ${what} name must be non-empty and contain no ".", found "${name}"`);
    }
  }

  // ---- traversal --------------------------------------------------------------------------------

  namedChildren(): [string, Module][] {
    return [...this.#modules];
  }

  children(): Module[] {
    return [...this.#modules.values()];
  }

  /** This module's own parameters (not its children's), absent optional ones (null) left out. */
  namedOwnParameters(): [string, Parameter][] {
    return [...this.#parameters].filter((e): e is [string, Parameter] => e[1] !== null);
  }

  /** Every module of the tree with its path, this one first as `prefix` (default ''), depth first in registration order. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const walk = (m: Module, path: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([path, m]);
      for (const [name, child] of m.#modules) walk(child, join(path, name));
    };
    walk(this, prefix);
    return out;
  }

  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /**
   * Record a child that transformers' class has under `name` but this one computes without a Module
   * (LlamaMLP's `act_fn`, an activation function here). It holds nothing and takes no part in the
   * forward; it is listed by namedModuleTree so that code that matches module paths as PEFT does over
   * transformers' tree (a target_modules regex) sees the same paths and classes.
   */
  declareAbsentModule(name: string, className: string): void {
    this.#checkName(name, 'module');
    if (this.#modules.has(name) || this.#parameters.has(name)) throw new ModuleError(`${this.constructor.name}: "${name}" is already registered, cannot declare it absent`);
    this.#absent.set(name, className);
  }

  /**
   * transformers' named_modules(): every module with its path and class, the declared absent ones
   * (`module` null) after their parent's real children, as transformers registers them last.
   */
  namedModuleTree(prefix = ''): { path: string; className: string; module: Module | null }[] {
    const out: { path: string; className: string; module: Module | null }[] = [];
    const seen = new Set<Module>();
    const walk = (m: Module, path: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push({ path, className: m.constructor.name, module: m });
      for (const [name, child] of m.#modules) walk(child, join(path, name));
      for (const [name, className] of m.#absent) out.push({ path: join(path, name), className, module: null });
    };
    walk(this, prefix);
    return out;
  }

  /** Parameters with their full names: own parameters first, then each child's, as torch orders them. */
  namedParameters(opts: NamedParametersOptions = {}): [string, Parameter][] {
    const { prefix = '', recurse = true, removeDuplicate = true } = opts;
    const out: [string, Parameter][] = [];
    const seen = new Set<Parameter>();
    const visit = (m: Module, path: string): void => {
      for (const [name, p] of m.namedOwnParameters()) {
        if (removeDuplicate && seen.has(p)) continue;
        seen.add(p);
        out.push([join(path, name), p]);
      }
    };
    if (!recurse) visit(this, prefix);
    else {
      // Module dedup follows removeDuplicate too, so that a shared submodule is listed under each path when asked.
      const modules = removeDuplicate ? this.namedModules(prefix) : this.#allModulePaths(prefix);
      for (const [path, m] of modules) visit(m, path);
    }
    return out;
  }

  #allModulePaths(prefix: string): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.#modules) out.push(...child.#allModulePaths(join(prefix, name)));
    return out;
  }

  parameters(opts: { recurse?: boolean } = {}): Parameter[] {
    return this.namedParameters(opts).map(([, p]) => p);
  }

  /** Number of parameter elements (shared parameters counted once). */
  numParameters(opts: { trainableOnly?: boolean } = {}): number {
    return this.parameters().filter((p) => !opts.trainableOnly || p.requiresGrad).reduce((n, p) => n + p.size, 0);
  }

  // ---- paths ----------------------------------------------------------------------------------------

  /** The module at a dotted path ('' is this module); the error names the first missing step and what exists there. */
  getSubmodule(path: string): Module {
    if (path === '') return this;
    const parts = path.split('.');
    return parts.reduce<Module>((cur, part, i) => {
      const next = cur.#modules.get(part);
      if (next) return next;
      const walked = parts.slice(0, i).join('.');
      const where = walked === '' ? 'the root module' : `"${walked}"`;
      const have = [...cur.#modules.keys()];
      throw new ModuleError(`no submodule "${path}": ${where} (${cur.constructor.name}) has no child "${part}"${have.length ? ` (children: ${listKeys(have)})` : ' (it has no children)'}`);
    }, this);
  }

  /**
   * Replace the module at a dotted path (torch's set_submodule): the parent's registry entry and, if
   * the parent keeps the old module in a field of the same name, that field. The path must exist.
   */
  setSubmodule(path: string, module: Module): void {
    if (path === '') throw new ModuleError('setSubmodule: cannot replace the root module (empty path)');
    if (!(module instanceof Module)) throw new ModuleError(`setSubmodule("${path}"): expected a Module`);
    const dot = path.lastIndexOf('.');
    let parent: Module;
    try {
      parent = this.getSubmodule(dot < 0 ? '' : path.slice(0, dot));
    } catch (e) {
      throw new ModuleError(`setSubmodule("${path}"): ${(e as Error).message}`, { cause: e });
    }
    const name = path.slice(dot + 1);
    const old = parent.#modules.get(name);
    if (!old) {
      const have = [...parent.#modules.keys()];
      throw new ModuleError(`setSubmodule: no submodule "${path}" to replace (${parent.constructor.name} has ${have.length ? `children ${listKeys(have)}` : 'no children'})`);
    }
    parent.#modules.set(name, module);
    if (Object.prototype.hasOwnProperty.call(parent, name) && Reflect.get(parent, name) === old) Reflect.set(parent, name, module);
    parent.onChildReplaced(name, module);
  }

  /** Hook for containers that index their children by position (ModuleList). */
  protected onChildReplaced(_name: string, _module: Module): void {}

  /**
   * Replace the parameter at a dotted path (torch's setattr of a Parameter): the owner's registry
   * entry and, if the owner keeps the old parameter in a field of the same name, that field. Unties
   * a shared parameter (tied embeddings) for this path only. The path must exist.
   */
  setParameter(path: string, param: Parameter): void {
    const dot = path.lastIndexOf('.');
    const owner = this.getSubmodule(dot < 0 ? '' : path.slice(0, dot));
    const name = path.slice(dot + 1);
    const old = owner.#parameters.get(name);
    if (!old) throw new ModuleError(`setParameter: no parameter "${path}" to replace (${owner.constructor.name} has ${owner.namedOwnParameters().map(([n]) => n).join(', ') || 'no parameters'})`);
    if (!(param instanceof Parameter)) throw new ModuleError(`setParameter("${path}"): expected a Parameter`);
    owner.#parameters.set(name, param);
    if (Object.prototype.hasOwnProperty.call(owner, name) && Reflect.get(owner, name) === old) Reflect.set(owner, name, param);
  }

  /** The parameter at a dotted path (`model.norm.weight`). */
  getParameter(path: string): Parameter {
    const dot = path.lastIndexOf('.');
    const owner = this.getSubmodule(dot < 0 ? '' : path.slice(0, dot));
    const name = path.slice(dot + 1);
    const p = owner.#parameters.get(name);
    if (!p) {
      const have = owner.namedOwnParameters().map(([n]) => n);
      throw new ModuleError(`no parameter "${path}" (${owner.constructor.name} has ${have.length ? `parameters ${have.join(', ')}` : 'no parameters'})`);
    }
    return p;
  }

  // ---- state ---------------------------------------------------------------------------------------

  /**
   * The current tensors by full name. A shared parameter (tied embeddings) appears once, under its
   * first name — `model.embed_tokens.weight`, not `lm_head.weight` — which is what transformers saves.
   */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedParameters().map(([name, p]) => [name, p.value]));
  }

  /**
   * Put tensors into the parameters by full name. A shared parameter is satisfied by any of its
   * names (a checkpoint of a tied model may or may not carry `lm_head.weight`). Everything is checked
   * before anything is assigned, so a failed load leaves the module as it was.
   */
  loadStateDict(state: ReadonlyMap<string, Tensor>, opts: LoadStateDictOptions = {}): LoadStateDictResult {
    const { strict = true } = opts;
    const namesOf = new Map<Parameter, string[]>();
    for (const [name, p] of this.namedParameters({ removeDuplicate: false })) {
      const list = namesOf.get(p);
      if (list) list.push(name); else namesOf.set(p, [name]);
    }
    const known = new Set<string>();
    const missingKeys: string[] = [];
    const mismatches: string[] = [];
    const assignments: [Parameter, Tensor][] = [];
    for (const [p, names] of namesOf) {
      for (const n of names) known.add(n);
      const key = names.find((n) => state.has(n));
      if (key === undefined) { missingKeys.push(names[0]!); continue; }
      const t = state.get(key)!;
      const sameShape = t.shape.length === p.shape.length && t.shape.every((d, i) => d === p.shape[i]);
      if (!sameShape) {
        mismatches.push(`${key}: expected shape [${p.shape.join(', ')}], found [${t.shape.join(', ')}]`);
      } else if (t.dtype !== p.dtype) {
        mismatches.push(`${key}: expected dtype ${p.dtype}, found ${t.dtype} (cast it when loading)`);
      } else {
        assignments.push([p, t]);
      }
    }
    const unexpectedKeys = [...state.keys()].filter((k) => !known.has(k));
    if (mismatches.length) {
      throw new ModuleError(`loadStateDict (${this.constructor.name}): ${mismatches.length} tensor(s) do not fit:\n  ${mismatches.join('\n  ')}`);
    }
    if (strict && (missingKeys.length || unexpectedKeys.length)) {
      const parts: string[] = [];
      if (missingKeys.length) parts.push(`missing keys (${missingKeys.length}): ${listKeys(missingKeys)}`);
      if (unexpectedKeys.length) parts.push(`unexpected keys (${unexpectedKeys.length}): ${listKeys(unexpectedKeys)}`);
      throw new ModuleError(`loadStateDict (${this.constructor.name}, strict): ${parts.join('; ')}`);
    }
    for (const [p, t] of assignments) p.value = t;
    return { missingKeys, unexpectedKeys };
  }

  // ---- modes -----------------------------------------------------------------------------------------

  /** Set training mode on the whole tree (torch's train(mode)). */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Set requiresGrad on every parameter of the tree (torch's requires_grad_). */
  requiresGrad(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad = flag;
    return this;
  }

  // ---- printing ----------------------------------------------------------------------------------------

  /** Hyper-parameters shown next to the class name (torch's extra_repr). */
  extraRepr(): string {
    return '';
  }

  toString(): string {
    const lines = [`${this.constructor.name}(${this.extraRepr()}`];
    const kids = this.namedChildren();
    if (kids.length === 0) return `${lines[0]})`;
    for (const [name, child] of kids) lines.push(`  (${name}): ${child.toString().split('\n').join('\n  ')}`);
    lines.push(')');
    return lines.join('\n');
  }
}

/** An indexed list of modules, named '0', '1', ... (torch's ModuleList). */
export class ModuleList<M extends Module = Module> extends Module implements Iterable<M> {
  #items: M[] = [];

  constructor(modules: readonly M[] = []) {
    super();
    for (const m of modules) this.append(m);
  }

  append(module: M): this {
    this.registerModule(String(this.#items.length), module);
    this.#items.push(module);
    return this;
  }

  get length(): number { return this.#items.length; }

  get(index: number): M {
    const m = this.#items[index];
    if (!m) throw new ModuleError(`ModuleList: index ${index} out of range (length ${this.#items.length})`);
    return m;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.#items[Symbol.iterator]();
  }

  protected override onChildReplaced(name: string, module: Module): void {
    // setSubmodule('layers.3', wrapped): the list must hand out the new module too.
    this.#items[Number(name)] = module as M;
  }
}
