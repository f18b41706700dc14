import { channels, codeOf } from './channels';

/** The passport actions a strategy settles a callback with. */
interface SignInActions {
  success(user: unknown, info?: unknown): void;
  fail(challenge?: unknown, status?: number): void;
  error(err: unknown): void;
}

/**
 * The same actions, reporting the outcome on the sign-in channel. Without a subscriber (checked
 * once per callback) the actions themselves, untouched.
 */
export function observeSignIn<A extends SignInActions>(actions: A, strategy: string): A {
  const channel = channels.signIn;
  if (!channel.hasSubscribers) return actions;
  const failed = (err: unknown, status?: number): void => {
    const fallback = (err as { status?: unknown } | null)?.status;
    const code = codeOf(err);
    channel.publish({ outcome: 'failure', strategy, code, status: status ?? (typeof fallback === 'number' ? fallback : code === 'unknown' ? 500 : 401) });
  };
  // passport calls these on a per-request object; a child of it keeps every other member.
  const observed = Object.create(actions) as A;
  observed.success = (user, info) => {
    const fractal = (info as { fractal?: { grantedScopes?: string[]; deniedScopes?: string[] } } | undefined)?.fractal;
    channel.publish({
      outcome: 'success',
      strategy,
      ...(fractal?.grantedScopes ? { grantedScopes: [...fractal.grantedScopes] } : {}),
      ...(fractal?.deniedScopes ? { deniedScopes: [...fractal.deniedScopes] } : {}),
    });
    actions.success(user, info);
  };
  observed.fail = (challenge, status) => {
    failed(challenge, status);
    actions.fail(challenge, status);
  };
  observed.error = (err) => {
    failed(err);
    actions.error(err);
  };
  return observed;
}
