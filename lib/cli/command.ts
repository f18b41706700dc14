/**
 * The convention of every command-line tool of this package (`fractal-sandbox`, `fractal-stats`):
 * exit 0 when it did its job (or printed `--help`), 1 when it failed at run time (the provider,
 * the network, a port in use), 2 when it was called wrongly (unknown option, bad value, missing
 * credentials): the message and a pointer to `--help` go to stderr, nothing to stdout.
 * Output and errors go only to the given {@link CliIo}, so tests run commands in process.
 */
export const ExitCode = { OK: 0, FAILURE: 1, USAGE: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Where a command writes; text is written as given (add the newline yourself). */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** The process's own streams. */
export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** The command was called wrongly: exit 2 with this message. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Runs an argument parser (`node:util` `parseArgs` in strict mode), its complaints turned into {@link UsageError}. */
export function parseOrUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** `code: message` for library errors (which never contain a secret or a token), else the message. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

/**
 * Runs a command's body under the convention: its result, or 2 for a {@link UsageError} (message,
 * then `usage` or a pointer to `--help`, on stderr), or 1 for any other failure.
 */
export async function runCommand(name: string, io: CliIo, body: () => Promise<ExitCode>, usage?: string): Promise<ExitCode> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`${name}: ${err.message}\n${usage === undefined ? `Run ${name} --help for usage.\n` : `\n${usage}\n`}`);
      return ExitCode.USAGE;
    }
    io.stderr(`${name}: ${describeError(err)}\n`);
    return ExitCode.FAILURE;
  }
}
