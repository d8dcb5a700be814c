/**
 * How a model writes tool calls, as the format it was trained on spells them: the text before the first call,
 * around each call's name and arguments, between calls and after the last. The grammar spells everything but the
 * names and the arguments, so the text of an answer's calls follows from their names and arguments and back.
 *
 * A format's cue token (`<|python_tag|>`, `[TOOL_CALLS]`) is a control token in the models that use it, and control
 * tokens detokenize to no text: a dialect leaves it out, so the text of a call is the same whichever tokens
 * spelled it.
 */
export interface ToolDialect {
  /** Stable name (`hermes`, `llama3`, `mistral`). */
  readonly name: string;
  /** Before the first call. */
  readonly open: string;
  /** Before each call's function name. */
  readonly callOpen: string;
  /** Between the name and the arguments' JSON. */
  readonly callArguments: string;
  /** After the arguments' JSON. */
  readonly callClose: string;
  /** Between two calls. */
  readonly separator: string;
  /** After the last call. */
  readonly close: string;
  /** The system text that tells a model whose template cannot render tools how to call them (Hermes-style). */
  readonly toolsInstruction: string;
}

/** A call as a model writes it: its function's name and the arguments' JSON text. */
export interface WrittenCall {
  name: string;
  arguments: string;
}

/** A call read from (possibly unfinished) text: the arguments so far, and whether they are complete. */
export interface ScannedCall extends WrittenCall {
  complete: boolean;
}

/** What every answer that is tool calls starts with. */
export function callsStart(dialect: ToolDialect): string {
  return dialect.open + dialect.callOpen;
}
