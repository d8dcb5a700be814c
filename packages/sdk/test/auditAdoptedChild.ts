// A process of an owner running the adopted-leaf audit over a shared `fileStateStore` directory, for
// adoptedAuditClaims.test.ts: `node --import tsx auditAdoptedChild.ts <network file> <owner key> <dir> <start at>`.
// Imports the SDK from its sources (as keepSignedChild.ts does). The node's proofs are all refused (500). Prints the reports as JSON (bigints as strings).
import { readFileSync } from "node:fs";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { keptStacksBook } from "../src/client/adoptedAuditor.js";
import { auditAdoptedStacks, genesisHash, KeptStacks, parseNetwork, userContext } from "../src/index.js";
import { fileStateStore } from "../src/node/index.js";

const [networkFile, key, dir, startAt] = process.argv.slice(2) as [string, Hex, string, string];
const network = parseNetwork(readFileSync(networkFile, "utf8"));
const account = privateKeyToAccount(key);
const ctx = userContext(network, account);
const kept = new KeptStacks(fileStateStore(dir), {
  chainId: await ctx.publicClient.getChainId(),
  genesis: await genesisHash(ctx),
  stackManager: network.contracts.StackManager,
  owner: account.address,
});
const refuseProofs: typeof fetch = async (input, init) => {
  const url = input instanceof Request ? input.url : String(input);
  return url.includes("/proof/") ? new Response("busy", { status: 500 }) : fetch(input, init);
};
while (Date.now() < Number(startAt)) await new Promise((r) => setTimeout(r, 1));
const reports = await auditAdoptedStacks(ctx, keptStacksBook(kept), { fetch: refuseProofs });
process.stdout.write(
  JSON.stringify(reports, (_, v) =>
    typeof v === "bigint"
      ? String(v)
      : v instanceof Error
        ? `${v.message}${v.cause instanceof Error ? `: ${v.cause.message.split("\n")[0]}` : ""}`
        : v,
  ),
);
