const tails = new Map<string, Promise<unknown>>();

/**
 * Runs `send` after every earlier send of the same account in this process has been handed to the RPC node, so
 * parts of one node sending from one key at the same moment never pick the same nonce (each reads the pending
 * count after the previous transaction is in the pool). Only the broadcast is serialised, not the wait for receipts.
 */
export async function withSenderLock<T>(sender: string, send: () => Promise<T>): Promise<T> {
  const key = sender.toLowerCase();
  const previous = tails.get(key) ?? Promise.resolve();
  const run = previous.then(send, send);
  const tail = run.catch(() => {});
  tails.set(key, tail);
  try {
    return await run;
  } finally {
    if (tails.get(key) === tail) tails.delete(key);
  }
}
