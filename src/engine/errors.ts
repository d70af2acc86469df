/** Errors the engine throws. Each message says what was expected, what was found and where. */

export class EngineError extends Error {
  override name = 'EngineError';
}

/** A shape or dtype rule failed when an op was called. */
export class ShapeError extends EngineError {
  override name = 'ShapeError';
}

/** ONNX Runtime failed to compile or run a graph; the message names the engine op and where it was made. */
export class RuntimeFailure extends EngineError {
  override name = 'RuntimeFailure';
}

/** ONNX Runtime's binding could not be loaded; the message says why and how to fix the install. */
export class RuntimeUnavailableError extends EngineError {
  override name = 'RuntimeUnavailableError';
}
