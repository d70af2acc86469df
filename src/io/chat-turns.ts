/**
 * Where a rendered chat template put each message and each `{% generation %}` block, found by
 * rendering an instrumented copy of the template whose output carries marker characters.
 *
 * @huggingface/jinja parses `{% generation %}` / `{% endgeneration %}` but drops them in its lexer,
 * so their offsets are lost. Without forking it, two transforms of the compiled template recover
 * what is needed, and both leave the rendered text unchanged once the markers are removed:
 *
 * - **generation blocks**: the tags become a call block of an injected macro that writes
 *   GENERATION_OPEN, its body, GENERATION_CLOSE: transformers' AssistantTracker is exactly such a
 *   call block, so whitespace control and scoping are those of Python.
 * - **message iterations**: every `for` loop gets, at the start and end of its body, a call that
 *   writes a marker naming the message when the loop variable is one of the conversation's
 *   messages (by identity: slices such as `messages[1:]` and filters such as `selectattr` keep
 *   the objects). The text a template writes while it iterates over message i is message i's.
 *
 * The markers are Unicode noncharacters (U+FDD0–U+FDD4), which never occur in interchanged text;
 * a rendering that already contains one is refused.
 */
import { Template } from '@huggingface/jinja';
import type { CharSpan, MarkedRendering } from './chat-spans.ts';

export type { CharSpan, MarkedRendering } from './chat-spans.ts';
import { programBody, statements, walk } from './jinja-ast.ts';
import { TokenizerError } from './tokenizer-files.ts';

const MESSAGE_OPEN = '\uFDD0';
const MESSAGE_CLOSE = '\uFDD1';
const INDEX_END = '\uFDD2';
const GENERATION_OPEN = '\uFDD3';
const GENERATION_CLOSE = '\uFDD4';
const MARKERS = /[\uFDD0-\uFDD4]/;


/** The first marker character in `text` (a rendering with one cannot be marked), or undefined. */
export function markerCharacterIn(text: string): string | undefined {
  return MARKERS.exec(text)?.[0];
}

/** `{% generation %}`, with its whitespace-control dashes, as transformers' extension parses it. */
const GENERATION_TAG = /{%(-?)\s*(end)?generation\s*(-?)%}/g;
const GENERATION_MACRO = '__bone_generation';
const MESSAGES_VARIABLE = '__bone_messages';
const TURN_OPEN = '__bone_turn_open';
const TURN_CLOSE = '__bone_turn_close';

/** Whether a template source uses transformers' `{% generation %}` tag. */
export function hasGenerationTags(source: string): boolean {
  GENERATION_TAG.lastIndex = 0;
  return GENERATION_TAG.test(source);
}

/**
 * Compiles `source` so that rendering it marks generation blocks (when it has `{% generation %}`
 * tags) or message iterations (otherwise). Render it with {@link renderMarked}.
 */
export function compileMarkedTemplate(source: string): Template {
  const withGeneration = hasGenerationTags(source);
  const transformed = withGeneration
    ? source.replace(GENERATION_TAG, (_, left: string, end: string | undefined, right: string) =>
      (end === undefined ? `{%${left} call ${GENERATION_MACRO}() ${right}%}` : `{%${left} endcall ${right}%}`))
    : source;
  const template = new Template(transformed);
  const body = programBody(template);
  if (withGeneration) {
    body.unshift(...statements(`{% macro ${GENERATION_MACRO}() %}${GENERATION_OPEN}{{ caller() }}${GENERATION_CLOSE}{% endmacro %}`));
    return template;
  }
  for (const node of walk(body)) {
    const loopvar = node['loopvar'] as { type: string; value?: unknown } | undefined;
    if (node.type !== 'For' || loopvar?.type !== 'Identifier' || typeof loopvar.value !== 'string') continue;
    const name = loopvar.value;
    node.body = [
      ...statements(`{{ ${TURN_OPEN}(${MESSAGES_VARIABLE}, ${name}) }}`),
      ...(node.body ?? []),
      ...statements(`{{ ${TURN_CLOSE}(${MESSAGES_VARIABLE}, ${name}) }}`),
    ];
  }
  // The conversation as the template first sees it: templates may rebind `messages` (Llama 3.1
  // drops the system message with `set messages = messages[1:]`), and indices refer to the original.
  body.unshift(...statements(`{% set ${MESSAGES_VARIABLE} = messages %}`));
  return template;
}

/** Index of `item` among `messages` by identity, as the template's runtime passes them to functions. */
function messageIndex(messages: unknown, item: unknown): number {
  if (!Array.isArray(messages) || item === null || typeof item !== 'object') return -1;
  return messages.findIndex((message) => (message as { value?: unknown } | null)?.value === item);
}

/** Renders a template compiled by {@link compileMarkedTemplate} and reads its markers. */
export function renderMarked(template: Template, variables: Record<string, unknown>): MarkedRendering {
  const marker = (open: boolean) => (messages: unknown, item: unknown): string => {
    const index = messageIndex(messages, item);
    return index < 0 ? '' : `${open ? MESSAGE_OPEN : MESSAGE_CLOSE}${index}${INDEX_END}`;
  };
  const raw = template.render({ ...variables, [TURN_OPEN]: marker(true), [TURN_CLOSE]: marker(false) });
  return readMarkers(raw);
}

/** Removes the markers from a marked rendering, recording where they were. */
function readMarkers(raw: string): MarkedRendering {
  const generation: CharSpan[] = [];
  const iterations: { message: number; span: CharSpan }[] = [];
  const openGeneration: number[] = [];
  const openMessages: { message: number; start: number }[] = [];
  let text = '';
  let from = 0;
  const malformed = (what: string): never => {
    throw new TokenizerError(`cannot locate the chat's turns: the template's output has ${what}`);
  };
  for (let i = 0; i < raw.length; i += 1) {
    const c = raw[i];
    if (!MARKERS.test(c!)) continue;
    text += raw.slice(from, i);
    if (c === GENERATION_OPEN) {
      openGeneration.push(text.length);
    } else if (c === GENERATION_CLOSE) {
      const start = openGeneration.pop() ?? malformed('an {% endgeneration %} without {% generation %}');
      // Nested blocks count once, as the outermost (transformers records both; their union is the same).
      if (openGeneration.length === 0) generation.push({ start, end: text.length });
    } else if (c === MESSAGE_OPEN || c === MESSAGE_CLOSE) {
      const end = raw.indexOf(INDEX_END, i);
      const message = Number(raw.slice(i + 1, end));
      if (end < 0 || !Number.isInteger(message)) malformed('a marker character of its own (U+FDD0–U+FDD4) in it');
      if (c === MESSAGE_OPEN) {
        openMessages.push({ message, start: text.length });
      } else {
        const open = openMessages.pop();
        if (open?.message !== message) malformed(`unbalanced iterations over message ${message}`);
        iterations.push({ message, span: { start: open!.start, end: text.length } });
      }
      i = end;
    } else {
      malformed('a marker character of its own (U+FDD0–U+FDD4) in it');
    }
    from = i + 1;
  }
  if (openGeneration.length > 0 || openMessages.length > 0) malformed('an unclosed {% generation %} block or iteration');
  text += raw.slice(from);
  return { text, generation, iterations };
}
