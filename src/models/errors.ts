/** Errors of model construction and use; each names the config key, module path or shape at fault. */
export class ModelError extends Error {
  override name = 'ModelError';
}

/** A config.json that cannot describe a supported model. */
export class ConfigError extends ModelError {
  override name = 'ConfigError';
}
