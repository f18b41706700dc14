/**
 * Raised by the sandbox's programmatic API for misuse (unknown user, invalid redirect URI) and by
 * `authorize()` when the real provider would show an error page instead of redirecting
 * (RFC 6749 section 4.1.2.1). `code` is stable; branch on it rather than on `instanceof`.
 */
export class SandboxError extends Error {
  readonly code: string;
  /** HTTP status the admin API answers with. */
  readonly status: number;

  constructor(code: string, message: string, status = 400) {
    super(message);
    this.name = 'SandboxError';
    this.code = code;
    this.status = status;
  }
}
