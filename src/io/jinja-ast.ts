/**
 * Edits to templates that @huggingface/jinja has parsed (`Template.parsed`), made without forking
 * it: splicing statements parsed from snippets, and making Python string methods behave as in
 * transformers' Jinja, which runs on Python strings.
 *
 * @huggingface/jinja 0.5 ignores the argument of `strip`, `lstrip` and `rstrip` and always strips
 * whitespace. Python strips the given characters only, and templates rely on it: Qwen3's writes
 * `content.lstrip('\n')` after its think block, so an answer that starts with spaces kept them in
 * transformers and lost them here (ids that differ from transformers'). Such calls are rewritten
 * to functions with Python's semantics, passed to the template with its variables.
 */
import { Template } from '@huggingface/jinja';

/** The parts of @huggingface/jinja's AST touched here (its node classes are not exported). */
export interface JinjaNode {
  type: string;
  body?: JinjaNode[];
  [field: string]: unknown;
}

/** The statements of a parsed template. */
export function programBody(template: Template): JinjaNode[] {
  const program = template.parsed as unknown as JinjaNode;
  program.body ??= [];
  return program.body;
}

/** Statements parsed from a snippet, to splice into another template's tree. */
export function statements(snippet: string): JinjaNode[] {
  return programBody(new Template(snippet));
}

/** Every node under `node`, depth first, parents before children. */
export function* walk(node: unknown): Generator<JinjaNode> {
  if (Array.isArray(node)) {
    for (const child of node) yield* walk(child);
    return;
  }
  if (node === null || typeof node !== 'object' || typeof (node as JinjaNode).type !== 'string') return;
  yield node as JinjaNode;
  for (const value of Object.values(node)) if (typeof value === 'object' && value !== null) yield* walk(value);
}

const STRIP_FUNCTIONS = { strip: '__bone_py_strip', lstrip: '__bone_py_lstrip', rstrip: '__bone_py_rstrip' } as const;

/** Python's `str.strip(chars)` family: `chars` None strips whitespace, a string strips those characters. */
function pythonStrip(which: keyof typeof STRIP_FUNCTIONS) {
  return (value: unknown, chars: unknown): string => {
    if (typeof value !== 'string') throw new Error(`${which}() is a string method, called on ${value === null ? 'none' : typeof value}`);
    if (chars === null || chars === undefined) {
      return which === 'strip' ? value.trim() : which === 'lstrip' ? value.trimStart() : value.trimEnd();
    }
    if (typeof chars !== 'string') throw new Error(`${which}() takes a string of characters, got ${typeof chars}`);
    const set = new Set(chars);
    const characters = [...value];
    let start = 0;
    let end = characters.length;
    if (which !== 'rstrip') while (start < end && set.has(characters[start]!)) start += 1;
    if (which !== 'lstrip') while (end > start && set.has(characters[end - 1]!)) end -= 1;
    return characters.slice(start, end).join('');
  };
}

/** The functions that {@link usePythonStringMethods} makes templates call; render with them among the variables. */
export const PYTHON_STRING_FUNCTIONS: Readonly<Record<string, (value: unknown, chars: unknown) => string>> = Object.fromEntries(
  Object.entries(STRIP_FUNCTIONS).map(([method, name]) => [name, pythonStrip(method as keyof typeof STRIP_FUNCTIONS)]),
);

/** Rewrites `x.strip(chars)`, `x.lstrip(chars)` and `x.rstrip(chars)` (with an argument) to Python's semantics. */
export function usePythonStringMethods(template: Template): Template {
  for (const node of walk(programBody(template))) {
    if (node.type !== 'CallExpression') continue;
    const callee = node['callee'] as JinjaNode & { object?: JinjaNode; property?: { type: string; value?: unknown }; computed?: boolean };
    const args = node['args'] as JinjaNode[];
    const method = callee.property?.value;
    if (callee.type !== 'MemberExpression' || callee.computed || callee.property?.type !== 'Identifier' || args.length === 0
      || typeof method !== 'string' || !Object.hasOwn(STRIP_FUNCTIONS, method)) continue;
    const replacement = statements(`{{ ${STRIP_FUNCTIONS[method as keyof typeof STRIP_FUNCTIONS]}(x) }}`)[0]!;
    node['callee'] = replacement['callee'];
    node['args'] = [callee.object, ...args];
  }
  return template;
}
