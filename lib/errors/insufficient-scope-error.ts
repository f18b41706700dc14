import { ErrorCode } from './codes';
import { FractalError } from './fractal-error';

/**
 * The user granted less than the app's `requiredScopes` (they unticked a scope at consent, or the
 * provider narrowed the grant to their user type). No session is created.
 */
export class InsufficientScopeError extends FractalError {
  readonly missingScopes: readonly string[];
  readonly grantedScopes: readonly string[];

  constructor(missingScopes: readonly string[], grantedScopes: readonly string[]) {
    super(
      ErrorCode.INSUFFICIENT_SCOPE,
      `The grant is missing required scopes: ${missingScopes.join(' ')}`,
    );
    this.missingScopes = [...missingScopes];
    this.grantedScopes = [...grantedScopes];
  }
}
