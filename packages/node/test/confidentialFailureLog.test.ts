import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { logUnexpected } from "../src/confidential/failureLog.js";

const MARKER = "prompt-marker-failure-log-8812";

function capture() {
  const lines: string[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(line) });
  return { logger, lines };
}

describe("an unexpected failure after a sealed request was opened", () => {
  it("is logged by class and code only: an engine echoing the prompt in its error leaves nothing of it in the logs", () => {
    const { logger, lines } = capture();
    const echo = Object.assign(new TypeError(`echo: ${MARKER}`, { cause: new Error(`cause ${MARKER}`) }), {
      code: "engine_echo",
    });
    logUnexpected(logger, echo, true, "sealed request failed");
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(MARKER);
    expect(JSON.parse(lines[0]!)).toMatchObject({ errorClass: "TypeError", code: "engine_echo" });
    // Control: a request in clear logs the error whole (the capture sees a marker when there is one).
    logUnexpected(logger, echo, false, "request failed");
    expect(lines[1]).toContain(MARKER);
  });
});
