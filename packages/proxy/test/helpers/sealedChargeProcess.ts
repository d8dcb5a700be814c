/**
 * A gateway's sealed-charge step in its own process, to be killed with SIGKILL (the crash test): opens the embedded
 * database and this gateway's journal (the flusher never started, so nothing reaches the database but the journal),
 * reserves a sealed session's bound for the key and, at step `settled`, charges it in full with its held leaf as
 * the confidential route does. Prints `at <step>` and waits to be killed.
 */

import { JournalFlusher } from "../../src/db/journalFlusher.js";
import { openGatewayDatabase } from "../../src/db/openGatewayDatabase.js";
import { SpendLedger } from "../../src/limits/spendLedger.js";

const args = JSON.parse(process.argv[2] ?? "{}") as {
  dir: string;
  keyId: string;
  step: "reserved" | "settled";
  stackId: string;
  maxUnits: string;
  pricePerMillion: string;
  maxWei: string;
};
const opened = await openGatewayDatabase({ kind: "embedded", dir: `${args.dir}/db` });
const journal = await JournalFlusher.open(opened.db, { dir: `${args.dir}/journal` });
const ledger = new SpendLedger(opened.db, { journal });
const reservation = await ledger.reserve(args.keyId, BigInt(args.maxWei));
if (args.step === "settled")
  await ledger.settle(reservation, BigInt(args.maxWei), undefined, {
    stackId: BigInt(args.stackId),
    nonce: 0n,
    maxUnits: BigInt(args.maxUnits),
    pricePerMillion: BigInt(args.pricePerMillion),
  });
process.stdout.write(`at ${args.step}\n`);
setInterval(() => undefined, 60_000);
