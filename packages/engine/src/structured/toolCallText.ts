import type { Hash } from "@atoma/core";
import { keccak256, stringToHex } from "viem";
import { bodyHash } from "../sampling.js";

/**
 * How a model writes tool calls, and how a follow-up turn shows them to it: Hermes/Qwen-style blocks, one per call,
 * separated by a newline. The grammar spells everything but the name and the arguments, so the text of an answer's
 * calls follows from their names and arguments and back:
 *
 *     <tool_call>
 *     {"name": "get_weather", "arguments": {"city": "Paris"}}
 *     </tool_call>
 */
export const TOOL_CALL_OPEN = '<tool_call>\n{"name": "';
export const TOOL_CALL_ARGUMENTS = '", "arguments": ';
export const TOOL_CALL_CLOSE = "}\n</tool_call>";
export const TOOL_CALL_SEPARATOR = "\n";

/** A call as a model writes it: its function's name and the arguments' JSON text. */
export interface WrittenCall {
  name: string;
  arguments: string;
}

/** An answer's text is tool calls exactly when it starts the way a call does (a text answer may not start with "<"). */
export function isToolCallText(text: string): boolean {
  return text.startsWith("<");
}

/** The text of these calls as the model writes them. */
export function toolCallText(calls: readonly WrittenCall[]): string {
  return calls
    .map((call) => `${TOOL_CALL_OPEN}${call.name}${TOOL_CALL_ARGUMENTS}${call.arguments}${TOOL_CALL_CLOSE}`)
    .join(TOOL_CALL_SEPARATOR);
}

/** A call read from (possibly unfinished) text: the arguments so far, and whether they are complete. */
export interface ScannedCall extends WrittenCall {
  complete: boolean;
}

/**
 * The calls in an answer's text, read as far as it goes: a call counts once its name is complete, with the
 * arguments written so far. The same reading serves a stream (what is new since the last reading) and the final
 * answer, so a stream's argument deltas add up to the answer's arguments.
 */
export function scanToolCalls(text: string): ScannedCall[] {
  const calls: ScannedCall[] = [];
  let at = 0;
  for (;;) {
    if (!text.startsWith(TOOL_CALL_OPEN, at)) return calls;
    const nameStart = at + TOOL_CALL_OPEN.length;
    const nameEnd = text.indexOf(TOOL_CALL_ARGUMENTS, nameStart);
    if (nameEnd === -1) return calls;
    const argumentsStart = nameEnd + TOOL_CALL_ARGUMENTS.length;
    const argumentsEnd = endOfJsonValue(text, argumentsStart);
    calls.push({
      name: text.slice(nameStart, nameEnd),
      arguments: text.slice(argumentsStart, argumentsEnd ?? text.length),
      complete: argumentsEnd !== undefined,
    });
    if (argumentsEnd === undefined || !text.startsWith(TOOL_CALL_CLOSE + TOOL_CALL_SEPARATOR, argumentsEnd))
      return calls;
    at = argumentsEnd + TOOL_CALL_CLOSE.length + TOOL_CALL_SEPARATOR.length;
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
