import { sendsWaiting, withSenderLock } from "@atoma/chain";

/** A hold on the broadcasts of some accounts (see `holdSends`). */
export interface SendHold {
  /** Sends of `address` that reached their broadcast and wait behind the hold. */
  waiting(address: string): number;
  /** Lets every held send through, in the order each account queued them. */
  release(): void;
}

/**
 * Holds every transaction the in-process nodes would send from `addresses` at the point of broadcast (the nodes'
 * own per-key send queue, `withSenderLock`): a node runs its step up to the moment its transaction would leave,
 * and nothing of it reaches the chain, until `release`. What a test sees meanwhile is what the world sees of a
 * node that has decided but not yet acted.
 */
export function holdSends(addresses: readonly string[]): SendHold {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  for (const address of addresses) void withSenderLock(address, () => gate);
  return { waiting: sendsWaiting, release };
}
