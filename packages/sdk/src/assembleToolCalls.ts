import type { ReproducibleToolCall } from "@atoma/core";
import { UnhashableStreamError } from "./errors.js";

type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const CALL_KEYS = new Set(["index", "id", "type", "function"]);
const FUNCTION_KEYS = new Set(["name", "arguments"]);

/** Refuses keys outside `allowed` that carry a value (a null one is dropped: it says nothing). */
export function onlyKeys(record: Json, allowed: ReadonlySet<string>, what: string): void {
  for (const [key, value] of Object.entries(record))
    if (!allowed.has(key) && value !== null && value !== undefined)
      throw new UnhashableStreamError(`a stream's ${what} carries "${key}", which no hash covers`);
}

/**
 * A stream's tool calls added up from their deltas, as strictly as the engine writes them (`ChatChunks`): call `i`
 * is opened by one delta at `index: i` (the next index, never a gap) naming its id, type and function; the next
 * ones at that index add to its arguments only. Anything else is read differently by different clients, so it is
 * refused. `add` returns the delta as relayed: the fields it took, nothing more.
 */
export class ToolCallAssembler {
  readonly #calls: ReproducibleToolCall[] = [];

  get calls(): readonly ReproducibleToolCall[] {
    return this.#calls;
  }

  add(delta: unknown): Json {
    if (!isRecord(delta)) throw new UnhashableStreamError("a tool-call delta must be an object");
    onlyKeys(delta, CALL_KEYS, "tool-call delta");
    const index = delta.index;
    if (typeof index !== "number" || !Number.isSafeInteger(index) || index < 0 || index > this.#calls.length)
      throw new UnhashableStreamError(
        `a tool-call delta's index must be a call's or the next one (${this.#calls.length}), not ${String(index)}`,
      );
    const fn = delta.function ?? {};
    if (!isRecord(fn)) throw new UnhashableStreamError("a tool-call delta's function must be an object");
    onlyKeys(fn, FUNCTION_KEYS, "tool-call function");
    const args = fn.arguments ?? "";
    if (typeof args !== "string") throw new UnhashableStreamError("a tool call's arguments must be a string");
    const existing = this.#calls[index];
    if (existing) {
      if (delta.id !== undefined || delta.type !== undefined || fn.name !== undefined)
        throw new UnhashableStreamError("only a tool call's first delta may name its id, type and function");
      existing.function.arguments += args;
      return { index, function: { arguments: args } };
    }
    if (typeof delta.id !== "string" || delta.type !== "function" || typeof fn.name !== "string")
      throw new UnhashableStreamError("a tool call's first delta must name its id, type function and name");
    this.#calls.push({ id: delta.id, type: "function", function: { name: fn.name, arguments: args } });
    return { index, id: delta.id, type: "function", function: { name: fn.name, arguments: args } };
  }
}
