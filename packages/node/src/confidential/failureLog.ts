import type { Logger } from "@atoma/core";

/**
 * Logs an unexpected failure. After a sealed request was opened nothing of the error but its class and code is
 * logged: its message, stack or cause may quote the prompt or the answer (an engine echoing its input, a parser
 * quoting the text it choked on). A request in clear logs the error whole.
 */
export function logUnexpected(logger: Logger, error: unknown, sealed: boolean, message: string): void {
  if (!sealed) {
    logger.error({ err: error }, message);
    return;
  }
  const code = (error as { code?: unknown } | null)?.code;
  logger.error(
    {
      errorClass: error instanceof Error ? error.constructor.name : typeof error,
      ...(typeof code === "string" && { code }),
    },
    message,
  );
}
