const tails = new Map<string, Promise<unknown>>();
const waiting = new Map<string, number>();

/**
 * Runs `send` after every earlier send of the same account in this process has been handed to the RPC node, so
 * parts of one node sending from one key at the same moment never pick the same nonce (each reads the pending
 * count after the previous transaction is in the pool). Only the broadcast is serialised, not the wait for receipts.
 */
export async function withSenderLock<T>(sender: string, send: () => Promise<T>): Promise<T> {
  const key = sender.toLowerCase();
  const previous = tails.get(key) ?? Promise.resolve();
  waiting.set(key, (waiting.get(key) ?? 0) + 1);
  const start = () => {
    waiting.set(key, (waiting.get(key) ?? 1) - 1);
    return send();
  };
  const run = previous.then(start, start);
  const tail = run.catch(() => {});
  tails.set(key, tail);
  try {
    return await run;
  } finally {
    if (tails.get(key) === tail) tails.delete(key);
  }
}

/** Sends of `sender` in this process queued behind an earlier one, not yet handed to the RPC node. */
export function sendsWaiting(sender: string): number {
  return waiting.get(sender.toLowerCase()) ?? 0;
}
