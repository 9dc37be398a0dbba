// A usage or input error the CLI reports in one line with an exit code (no stack trace).
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}
