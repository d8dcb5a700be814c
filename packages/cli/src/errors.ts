import { AtomaError } from "@atoma/core";

/** The one line a failing command prints: the short message of an Atoma error, or the message of any other. */
export function oneLineMessage(error: unknown): string {
  if (error instanceof AtomaError) return error.shortMessage;
  if (error instanceof Error) return error.message.split("\n")[0] ?? "unknown error";
  return String(error);
}

export class CliUsageError extends AtomaError {
  override name = "CliUsageError";
  constructor(message: string) {
    super("CLI_USAGE", message);
  }
}
