import type { Logger } from "@atoma/core";

/**
 * Where llama.cpp's own log lines go. While the engine loads its models they are the operator's (a GPU or a file
 * problem, say) and logged whole; once it serves, a line may quote what a request gave it (a grammar built from a
 * sealed request's schema, a token's text), so only its level and length are logged.
 */
export function llamaLogSink(
  logger: Logger,
  serving: () => boolean,
): (level: string, message: string) => void {
  return (level, message) => {
    if (serving())
      logger.warn({ level, chars: message.length }, "llama.cpp said something (text withheld while serving)");
    else logger.warn({ level, llama: message.trim() }, "llama.cpp");
  };
}
