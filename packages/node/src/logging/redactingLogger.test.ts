import { Writable } from "node:stream";
import { AtomaError, InvalidInputError } from "@atoma/core";
import { PGlite } from "@electric-sql/pglite";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loggableError } from "./loggableError.js";
import { redactingLogger } from "./redactingLogger.js";

const PROMPT = "SECRET-PROMPT-TEXT";

/** pino writing into `lines`, with its default `err` serializer (what the CLI runs). */
function pinoInto(lines: string[]) {
  return pino(
    { base: null },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
}

describe("the node's logger", () => {
  let db: PGlite;
  /** A real database error: the one a NUL in a jsonb parameter raised, quoting the parameter. */
  let databaseError: Error;

  beforeAll(async () => {
    db = new PGlite();
    await db.exec("create table t (j jsonb)");
    databaseError = await db
      .query("insert into t values ($1)", [JSON.stringify({ content: `${PROMPT}\u0000` })])
      .then(
        () => new Error("the insert should have failed"),
        (error: Error) => error,
      );
  });
  afterAll(async () => db?.close());

  it("would leak the parameters a database error quotes through pino's own serializer", () => {
    const lines: string[] = [];
    pinoInto(lines).error({ err: databaseError }, "request failed");
    expect(lines.join("")).toContain(PROMPT);
  });

  it("logs an error's class, code and frames, never what it quotes, under any key and in children", () => {
    const lines: string[] = [];
    const logger = redactingLogger(pinoInto(lines)).child({ module: "test" });
    const wrapped = new AtomaError("wrapped", "committing failed", { cause: databaseError, details: PROMPT });
    logger.error({ err: databaseError, requestId: "r1" }, "request failed");
    logger.warn({ error: wrapped }, "step failed");
    logger.info({ reason: new SyntaxError(`Unexpected token in "${PROMPT}"`) }, "parse failed");
    const text = lines.join("");
    expect(text).not.toContain(PROMPT);
    const [first, second] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(first).toMatchObject({ module: "test", requestId: "r1", err: { type: "error", code: "22P05" } });
    expect(second!.error).toMatchObject({
      type: "AtomaError",
      code: "wrapped",
      message: "committing failed",
      cause: { type: "error", code: "22P05" },
    });
  });

  it("keeps the project's own short messages and the stack frames", () => {
    const logged = loggableError(new InvalidInputError("units must be a whole number"));
    expect(logged).toMatchObject({ type: "InvalidInputError", code: "invalid_input" });
    expect(logged.message).toBe("units must be a whole number");
    expect(logged.stack?.[0]).toMatch(/^at /);
    expect(loggableError("a string")).toEqual({ type: "string" });
  });
});
