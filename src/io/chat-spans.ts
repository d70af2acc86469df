/**
 * Where a rendered chat template put each message: plain data, apart from the template machinery
 * (chat-turns.ts) so that the declarations of the public chat API do not carry @huggingface/jinja's
 * types.
 */

/** A half-open character range of a rendering. */
export interface CharSpan { start: number; end: number }

/** A rendering with what the instrumented template marked in it. */
export interface MarkedRendering {
  /** The rendered text, markers removed: what the template renders. */
  text: string;
  /** `{% generation %}` blocks, in order (none when the template has no such tags). */
  generation: CharSpan[];
  /** Each loop iteration over a message: which message and what it wrote, in order. */
  iterations: { message: number; span: CharSpan }[];
}
