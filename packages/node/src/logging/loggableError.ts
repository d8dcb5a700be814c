import { AtomaError } from "@atoma/core";
import { BaseError } from "viem";

/** Longest message kept, and most stack frames and causes followed. */
const MAX_MESSAGE = 300;
const MAX_FRAMES = 12;
const MAX_CAUSES = 3;

/** What of an error may reach a log line. */
export interface LoggableError {
  type: string;
  code?: string | number | undefined;
  message?: string | undefined;
  stack?: string[] | undefined;
  cause?: LoggableError | undefined;
}

/** The `at …` lines of a stack, without the message line(s) that head it. */
function framesOf(error: Error): string[] | undefined {
  const frames = error.stack
    ?.split("\n")
    .filter((line) => /^\s+at /.test(line))
    .slice(0, MAX_FRAMES)
    .map((line) => line.trim());
  return frames && frames.length > 0 ? frames : undefined;
}

/**
 * An error as it may be logged: its class, its code, and its stack frames; a message only when the project wrote
 * it (an `AtomaError`'s or viem's short message, never their details). Other errors' messages, and every extra
 * field, are dropped: a database error quotes the query's parameters and the JSON it refused, V8's JSON errors
 * quote the input, and transport errors carry URLs — a prompt, an answer or a secret could be in any of them.
 */
export function loggableError(error: unknown, causes = MAX_CAUSES): LoggableError {
  if (!(error instanceof Error)) return { type: error === null ? "null" : typeof error };
  const code = (error as { code?: unknown }).code;
  const logged: LoggableError = {
    type: error.name,
    ...(typeof code === "string" || typeof code === "number" ? { code } : {}),
  };
  if (error instanceof AtomaError || error instanceof BaseError)
    logged.message = error.shortMessage.slice(0, MAX_MESSAGE);
  logged.stack = framesOf(error);
  if (error.cause !== undefined && causes > 0) logged.cause = loggableError(error.cause, causes - 1);
  return logged;
}
