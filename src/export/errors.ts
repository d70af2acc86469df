/** An export that cannot be made: the message says what was expected, what was found, and where. */
export class ExportError extends Error {
  override name = 'ExportError';
}
