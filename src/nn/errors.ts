/** Errors of the module tree: each names the module path (and shapes) it is about. */
export class ModuleError extends Error {
  override name = 'ModuleError';
}
