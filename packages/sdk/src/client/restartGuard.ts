type Body = Record<string, unknown>;

/** A caller's streaming callbacks, and what they were shown. */
export interface RestartGuard {
  /** The caller's `onChunk`, noting that something was shown. */
  onChunk: ((chunk: Body) => void) | undefined;
  /** The caller's `onRestart` (a resend brought another answer), noting that nothing shown stands. */
  onRestart: (() => void) | undefined;
  /**
   * Before another answer is asked for (a failover to another stack or node, a request sealed again): chunks shown of
   * the last one are dropped through `onRestart`, or, with no way to tell the caller, `error` is thrown: two answers
   * are never shown spliced as one.
   */
  beforeAnother(error: unknown): void;
}

export function restartGuard(
  onChunk: ((chunk: Body) => void) | undefined,
  onRestart: (() => void) | undefined,
): RestartGuard {
  let shown = false;
  return {
    onChunk:
      onChunk &&
      ((chunk) => {
        shown = true;
        onChunk(chunk);
      }),
    onRestart:
      onRestart &&
      (() => {
        shown = false;
        onRestart();
      }),
    beforeAnother(error) {
      if (!shown) return;
      if (!onRestart) throw error;
      shown = false;
      onRestart();
    },
  };
}
