// A process keeping receipts and audit challenges in one stack's files, for chatStoresTwoProcess.test.ts:
// `node --import tsx chatStoresChild.ts <receipts file> <first> <count> <start at, ms since the epoch>`.
import type { Hex } from "viem";
import { keepAuditChallenge } from "../src/chat/auditStore.js";
import { keepReceipt } from "../src/chat/receiptStore.js";

const [file, first, count, startAt] = process.argv.slice(2) as [string, string, string, string];
const hex = (n: bigint, bytes: number) => `0x${n.toString(16).padStart(bytes * 2, "0")}` as Hex;
while (Date.now() < Number(startAt)) await new Promise((r) => setTimeout(r, 1));
for (let i = 0n; i < BigInt(count); i++) {
  const n = BigInt(first) + i;
  keepReceipt(file, {
    fields: {
      stackId: 7n,
      leafIndex: n,
      nonce: n,
      reqHash: hex(n, 32),
      respHash: hex(n + 1n, 32),
      units: 1n,
      cumulativeUnits: n + 1n,
      seed: 1n,
    },
    signature: hex(n, 65),
    result: "0x",
  });
  keepAuditChallenge(file, { leafIndex: n, challengeId: n, upheld: false, answerDeadline: 1n });
}
