/**
 * The engine's settings from the environment (BONE_DEBUG, ...), read where there is one: Node.js
 * has `process.env`, a browser tab or worker has none, and there every setting is unset. Reading
 * through `globalThis` keeps the engine free of Node's types and modules.
 */
export function readEnv(name: string): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const value = env?.[name];
  return value === '' ? undefined : value;
}
