/**
 * A conversation as a training sequence: the text to train on and the character spans of the
 * assistant's turns (the tokens that get loss), as TRL's SFTTrainer with `assistant_only_loss`
 * makes them. docs/design.md ("Chat templates for training") records why it works this way and
 * what was measured against transformers and TRL.
 *
 * - A template with `{% generation %}` blocks says itself what the assistant wrote: the text is
 *   its rendering and the spans are its blocks (transformers' `return_assistant_tokens_mask`).
 * - Otherwise each message's text is located by rendering it in an instrumented template
 *   (chat-turns.ts). An assistant turn's span starts after the generation prompt (the text that
 *   `add_generation_prompt` appends, e.g. `<|im_start|>assistant\n`, which the model is given, not
 *   asked to produce) and ends where the template's text for that message ends (its end-of-turn
 *   token included: the model must learn to stop).
 * - Templates that drop part of an earlier assistant turn once later messages exist (Qwen3 and
 *   DeepSeek-R1 remove past reasoning) render a turn the model never generated. Such a turn is
 *   trained as the template renders it when it is the last message — reasoning, tool calls and
 *   end-of-turn included — which is what TRL's patched Qwen3 training template renders.
 */
import type { ChatMessage, ChatRenderer } from './chat-template.ts';
import type { CharSpan, MarkedRendering } from './chat-spans.ts';
import { markerCharacterIn } from './chat-turns.ts';
import { TokenizerError } from './tokenizer-files.ts';

/** The text to train on and the character spans that carry loss. */
export interface ChatTrainingText {
  text: string;
  assistantSpans: CharSpan[];
}

/** The text a rendering wrote for message `index`, or undefined when it wrote none. */
function messageText(rendering: MarkedRendering, index: number): CharSpan | undefined {
  const written = rendering.iterations.filter((it) => it.message === index && it.span.end > it.span.start);
  if (written.length > 1) {
    throw new TokenizerError(`cannot locate the assistant turns: the chat template writes message ${index} ${written.length} times`);
  }
  return written[0]?.span;
}

/** Whether `past` is `last` with one non-empty stretch removed (how reasoning is dropped from earlier turns). */
function isShortenedFrom(past: string, last: string): boolean {
  if (past.length >= last.length) return false;
  let prefix = 0;
  while (prefix < past.length && past[prefix] === last[prefix]) prefix += 1;
  let suffix = 0;
  while (suffix < past.length - prefix && past[past.length - 1 - suffix] === last[last.length - 1 - suffix]) suffix += 1;
  return prefix + suffix === past.length;
}

/** Length of the common prefix of two strings. */
function commonPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i += 1;
  return i;
}

/**
 * Where the assistant's own text starts in its turn's text: after the generation prompt the
 * model is given. Templates write that header inside the turn, sometimes after other text (Llama
 * 3 puts bos before the first message); when the turn does not contain the whole prompt (Qwen3's
 * `enable_thinking: false` adds an empty think block to it that a reasoning turn replaces) the
 * part they share is the header.
 */
function headerLength(turn: string, generationPrompt: string): number {
  if (generationPrompt === '') return 0;
  const at = turn.indexOf(generationPrompt);
  return at >= 0 ? at + generationPrompt.length : commonPrefix(turn, generationPrompt);
}

/** The text the generation prompt adds after `messages` (for example `<|im_start|>assistant\n`). */
function generationPromptAfter(messages: readonly ChatMessage[], renderer: ChatRenderer): string {
  if (messages.length === 0) return '';
  const without = renderer.render(messages, false);
  const withPrompt = renderer.render(messages, true);
  if (!withPrompt.startsWith(without)) {
    throw new TokenizerError(
      'cannot locate the assistant turns: with add_generation_prompt the chat template does not render the ' +
      'conversation as without it followed by a prompt',
    );
  }
  return withPrompt.slice(without.length);
}

/** A conversation's training text and assistant spans; see the file comment. */
export function chatTrainingText(messages: readonly ChatMessage[], renderer: ChatRenderer): ChatTrainingText {
  if (messages.length === 0) throw new TokenizerError('cannot encode an empty conversation');
  const plain = renderer.render(messages, false);
  const marker = markerCharacterIn(plain);
  if (marker !== undefined) {
    throw new TokenizerError(
      `the rendered conversation contains U+${marker.codePointAt(0)!.toString(16).toUpperCase()}, a Unicode noncharacter ` +
      'that encodeChat uses to mark turns; remove it from the data',
    );
  }
  const full = renderer.renderMarked(messages, false);
  if (renderer.hasGenerationBlocks) return { text: full.text, assistantSpans: full.generation };

  // The instrumented template must write what the plain one does, or its offsets mean nothing.
  if (full.text !== plain) {
    throw new TokenizerError('cannot locate the assistant turns: the instrumented chat template renders differently from the template');
  }
  const assistants = messages.flatMap((m, i) => (m.role === 'assistant' ? [i] : []));
  const generationPrompt = assistants.length === 0 ? '' : generationPromptAfter(messages.slice(0, assistants[0]), renderer);

  let text = '';
  let copied = 0;
  const assistantSpans: CharSpan[] = [];
  for (const i of assistants) {
    const span = messageText(full, i);
    if (span === undefined) {
      throw new TokenizerError(
        `cannot locate assistant message ${i}: the chat template writes nothing for it while iterating over the ` +
        'messages (a template that does not loop over messages needs {% generation %} blocks)',
      );
    }
    let turn = full.text.slice(span.start, span.end);
    if (i < messages.length - 1) {
      const asLast = renderer.renderMarked(messages.slice(0, i + 1), false);
      const lastSpan = messageText(asLast, i);
      const lastTurn = lastSpan === undefined ? turn : asLast.text.slice(lastSpan.start, lastSpan.end);
      if (isShortenedFrom(turn, lastTurn)) turn = lastTurn;
    }
    text += full.text.slice(copied, span.start);
    const start = text.length;
    text += turn;
    assistantSpans.push({ start: start + headerLength(turn, generationPrompt), end: text.length });
    copied = span.end;
  }
  text += full.text.slice(copied);
  return { text, assistantSpans };
}
