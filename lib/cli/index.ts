/** The shared I/O and exit-code convention of the package's command-line tools. The only door into `lib/cli/`. */
export { describeError, ExitCode, parseOrUsage, processIo, runCommand, UsageError, type CliIo } from './command';
