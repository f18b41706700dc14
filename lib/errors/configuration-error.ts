import { ErrorCode } from './codes';
import { FractalError } from './fractal-error';

/** Thrown synchronously by constructors when options are wrong. The message says how to fix it. */
export class ConfigurationError extends FractalError {
  constructor(message: string) {
    super(ErrorCode.CONFIGURATION, message);
  }
}
