/** PEFT configuration and adapter errors; messages follow PEFT's and add what to change. */
export class PeftError extends Error {
  override name = 'PeftError';
}
