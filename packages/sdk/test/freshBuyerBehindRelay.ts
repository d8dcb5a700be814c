import { parseReceipt } from "@atoma/core";
import type { DirectClientOptions } from "@atoma/sdk";
import { ask, cheapestFirstClient, cheapestNodeBehindRelay, fundedFreshBuyer } from "./devActors.js";
import type { DevNetwork } from "./devNetwork.js";
import type { Relay, RequestHeaders } from "./relay.js";

/** A fresh buyer, and the cheapest node behind a relay (see `cheapestNodeBehindRelay`). */
export type RelayedCheapest = Awaited<ReturnType<typeof cheapestNodeBehindRelay>> & {
  account: Awaited<ReturnType<typeof fundedFreshBuyer>>;
};

/** Runs `scene` with a freshly funded buyer and the cheapest node behind a relay, and closes the relay after it. */
export async function withFreshBuyerBehindRelay<T>(
  dev: DevNetwork,
  scene: (actors: RelayedCheapest) => Promise<T>,
): Promise<T> {
  const account = await fundedFreshBuyer(dev);
  const relayed = await cheapestNodeBehindRelay(dev);
  try {
    return await scene({ ...relayed, account });
  } finally {
    await relayed.relay.close();
  }
}

/** Makes `relay` refuse chat requests on `target.stack`, once set, with a 409 `stack_closed`: the node calls it closed. */
export function refuseStackAsClosed(relay: Relay) {
  const target: { stack?: string } = {};
  const closed = JSON.stringify({
    error: { message: "the stack is closed", type: "conflict_error", code: "stack_closed" },
  });
  const refusing = (path: string, headers: RequestHeaders) =>
    path.startsWith("/v1/chat") && headers["x-atoma-stack"] === target.stack;
  relay.rewrite = (body, path, headers) => (refusing(path, headers) ? closed : body);
  relay.statusOf = (status, path, headers) => (refusing(path, headers) ? 409 : status);
  return target;
}

/**
 * The buyer's first chat ("Hello") through a cheapest-first client, as an earlier run of its owner: its answer, its
 * stack, which `forged` (see `refuseStackAsExhausted`) now targets, and its receipt's fields.
 */
export async function firstChatOnForgedStack(
  dev: DevNetwork,
  { account, fetch }: RelayedCheapest,
  forged: { stack?: string },
) {
  const first = await cheapestFirstClient(dev, {
    account,
    fetch,
  }).chat(ask(dev.ready.model, "Hello"));
  const stack = first.atoma.stack_id as string;
  forged.stack = stack;
  const { fields } = parseReceipt(first.atoma);
  return { first, stack, fields };
}

/**
 * A cheapest-first client of the buyer, through the relay (with `options` besides), and the reasons it gives for
 * each node it puts aside.
 */
export function clientNotingPutAside(
  dev: DevNetwork,
  { account, fetch }: Pick<RelayedCheapest, "account" | "fetch">,
  options: Omit<DirectClientOptions, "network" | "preferences" | "account" | "fetch" | "onNodePutAside"> = {},
) {
  const putAside: string[] = [];
  const client = cheapestFirstClient(dev, {
    account,
    fetch,
    onNodePutAside: (_nodeId, reason) => putAside.push(reason),
    ...options,
  });
  return { client, putAside };
}
