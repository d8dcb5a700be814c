import { Writable } from "node:stream";
import type { Logger } from "@atoma/core";
import { pino } from "pino";

/** Every line the node logs, as pino writes it (its `err` serializer included). */
export function capturingLogger(lines: string[]): Logger {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return pino({ level: "debug", base: null }, sink);
}

/** The lines at warning level or above (pino's levels: 40 warn, 50 error, 60 fatal). */
export function warningsAndErrors(lines: readonly string[]): string[] {
  return lines.filter((line) => (JSON.parse(line) as { level: number }).level >= 40);
}
