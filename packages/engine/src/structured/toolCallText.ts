import type { Hash } from "@atoma/core";
import { keccak256, stringToHex } from "viem";
import { bodyHash } from "../sampling.js";
import { HERMES_DIALECT } from "./dialects/hermesDialect.js";
import { callsStart, type ScannedCall, type ToolDialect, type WrittenCall } from "./dialects/ToolDialect.js";

export type { ScannedCall, WrittenCall } from "./dialects/ToolDialect.js";

/** The Hermes dialect's pieces (the format of templates that say nothing of tools). */
export const TOOL_CALL_OPEN = HERMES_DIALECT.callOpen;
export const TOOL_CALL_ARGUMENTS = HERMES_DIALECT.callArguments;
export const TOOL_CALL_CLOSE = HERMES_DIALECT.callClose;
export const TOOL_CALL_SEPARATOR = HERMES_DIALECT.separator;

/**
 * An answer's text is tool calls exactly when it starts the way calls do in the model's dialect (the grammar keeps
 * a text answer from starting with that character).
 */
export function isToolCallText(text: string, dialect: ToolDialect = HERMES_DIALECT): boolean {
  return text.startsWith(callsStart(dialect)[0]!);
}

/** The text of these calls as the model writes them in its dialect. */
export function toolCallText(calls: readonly WrittenCall[], dialect: ToolDialect = HERMES_DIALECT): string {
  const written = calls
    .map(
      (call) =>
        `${dialect.callOpen}${call.name}${dialect.callArguments}${call.arguments}${dialect.callClose}`,
    )
    .join(dialect.separator);
  return `${dialect.open}${written}${dialect.close}`;
}

/**
 * The calls in an answer's text, read as far as it goes: a call counts once its name is complete, with the
 * arguments written so far. The same reading serves a stream (what is new since the last reading) and the final
 * answer, so a stream's argument deltas add up to the answer's arguments.
 */
export function scanToolCalls(text: string, dialect: ToolDialect = HERMES_DIALECT): ScannedCall[] {
  const calls: ScannedCall[] = [];
  if (!text.startsWith(dialect.open)) return calls;
  let at = dialect.open.length;
  for (;;) {
    if (!text.startsWith(dialect.callOpen, at)) return calls;
    const nameStart = at + dialect.callOpen.length;
    const nameEnd = text.indexOf(dialect.callArguments, nameStart);
    if (nameEnd === -1) return calls;
    const argumentsStart = nameEnd + dialect.callArguments.length;
    const argumentsEnd = endOfJsonValue(text, argumentsStart);
    calls.push({
      name: text.slice(nameStart, nameEnd),
      arguments: text.slice(argumentsStart, argumentsEnd ?? text.length),
      complete: argumentsEnd !== undefined,
    });
    const next = dialect.callClose + dialect.separator;
    if (argumentsEnd === undefined || !text.startsWith(next, argumentsEnd)) return calls;
    at = argumentsEnd + next.length;
  }
}

/** Where the JSON object or array starting at `start` ends (after its closing bracket), or undefined if it has not. */
function endOfJsonValue(text: string, start: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === "\\") i++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === "{" || char === "[") depth++;
    else if (char === "}" || char === "]") {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return undefined;
}

/**
 * The ids of the calls of the answer to `body`: derived from its request hash, so every verifier that replays the
 * request writes the same ids (`call_` and 24 hex digits). The body is hashed once, when an id is first needed.
 */
export function toolCallIds(body: unknown): (index: number) => string {
  let reqHash: Hash | undefined;
  return (index) => {
    reqHash ??= bodyHash(body);
    return `call_${keccak256(stringToHex(`atoma/tool-call/${reqHash}/${index}`)).slice(2, 26)}`;
  };
}
