// A process of an owner keeping request hashes in a shared `fileStateStore` directory, for twoProcessState.test.ts:
// `node --import tsx keepSignedChild.ts <dir> <first nonce> <count> <start at, ms since the epoch>`.
import type { Hex } from "viem";
import { fileStateStore } from "../src/node/fileStateStore.js";
import { KeptStacks } from "../src/state/keptStacks.js";

const [dir, first, count, startAt] = process.argv.slice(2) as [string, string, string, string];
const place = {
  chainId: 31_337,
  genesis: `0x${"9e".repeat(32)}`,
  stackManager: `0x${"5a".repeat(20)}`,
  owner: `0x${"0b".repeat(20)}`,
};
const kept = new KeptStacks(fileStateStore(dir), place);
const options = kept.clientOptions(7n, await kept.load(7n), () => undefined);
while (Date.now() < Number(startAt)) await new Promise((r) => setTimeout(r, 1));
for (let i = 0n; i < BigInt(count); i++) {
  const nonce = BigInt(first) + i;
  await options.onSigned?.({ nonce, reqHash: `0x${nonce.toString(16).padStart(64, "0")}` as Hex });
}
