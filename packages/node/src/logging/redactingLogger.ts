import type { Logger } from "@atoma/core";
import { loggableError } from "./loggableError.js";

function redact(fields: object): object {
  let copy: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(fields)) {
    if (!(value instanceof Error)) continue;
    copy ??= { ...fields };
    copy[key] = loggableError(value);
  }
  return copy ?? fields;
}

/**
 * The node's logger: every error passed in a log call's fields (`err`, `error`, any key) is logged as
 * `loggableError` makes it, so no log line can carry what an error quotes — a prompt, an answer, a secret.
 * Wraps the logger the node is given once; every part logs through it.
 */
export function redactingLogger(logger: Logger): Logger {
  return {
    debug: (fields, message) => logger.debug(redact(fields), message),
    info: (fields, message) => logger.info(redact(fields), message),
    warn: (fields, message) => logger.warn(redact(fields), message),
    error: (fields, message) => logger.error(redact(fields), message),
    child: (bindings) => redactingLogger(logger.child(bindings)),
  };
}
