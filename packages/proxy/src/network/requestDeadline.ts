/** A signal that aborts with the caller's or after `ms`, and `end()` to let go of both once the work is done. */
export interface RequestDeadline {
  signal: AbortSignal;
  end(): void;
}

/**
 * What `AbortSignal.any([signal, AbortSignal.timeout(ms)])` gives, without what it leaves behind: that timeout
 * signal keeps its timer for the whole `ms` (five minutes for a request) and `any` holds its sources weakly until
 * collected, so every request served left a live timer and signals to the garbage collector. The reason is the
 * caller's signal's, or a `TimeoutError` as `AbortSignal.timeout` makes it.
 */
export function requestDeadline(signal: AbortSignal, ms: number): RequestDeadline {
  const controller = new AbortController();
  if (signal.aborted) {
    controller.abort(signal.reason);
    return { signal: controller.signal, end: () => {} };
  }
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(
    () => controller.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError")),
    ms,
  );
  timer.unref();
  return {
    signal: controller.signal,
    end: () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    },
  };
}
