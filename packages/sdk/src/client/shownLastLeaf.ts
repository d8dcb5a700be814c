import {
  assertResponseSigner,
  parseReceipt,
  type SignedReceipt,
  type SignedResponseFields,
} from "@atoma/core";
import type { StackClient } from "../StackClient.js";
import type { UsableStack } from "../stackChoice.js";

/**
 * What a `stack_exhausted` refusal's receipt shows: the units its stack holds, why it is a lie, or why nothing here
 * can tell (`unproven`: a stack reused with none of its receipts at hand).
 */
export type ShownLastLeaf = { units: bigint } | { lie: string } | { unproven: string; units: bigint };

const FIELDS = [
  "stackId",
  "leafIndex",
  "nonce",
  "reqHash",
  "respHash",
  "units",
  "cumulativeUnits",
  "seed",
] as const satisfies readonly (keyof SignedResponseFields)[];

const sameLeaf = (a: SignedResponseFields, b: SignedResponseFields) => FIELDS.every((k) => a[k] === b[k]);

/**
 * Checks the receipt a `stack_exhausted` refusal carries (`atoma`) against what this client holds. Undefined when
 * there is none, or it is not the serving node's signature on this stack (no evidence either way). It must be the
 * stack's last leaf: the one below the refused request's nonce (the client's next nonce, a refused request's being
 * given back), with its nonce. When the client kept a receipt for that leaf the two must be one leaf (two
 * signatures of the node on one leaf are equivocation), and one the client accepted (a refused one proves nothing); else its running total must stay within the last receipt
 * accepted plus the bounds the owner signed since, its units within the bound signed at the leaf. A client that
 * knows nothing of the stack (reused from an earlier run, `signedUnitsThrough` undefined) has nothing to back a total
 * with: unproven either way (an honest node whose stack really is used up says the same), so the stack is left but
 * the node not put aside. A lie's or an unproven total's receipt is kept with the client's receipts (`keepShown`):
 * the owner's evidence, for the index challenge (the node must show the owner's signed request for every leaf) once
 * the node settles.
 */
export async function shownLastLeaf(
  stack: UsableStack,
  client: StackClient,
  atoma: unknown,
): Promise<ShownLastLeaf | undefined> {
  let shown: SignedReceipt;
  try {
    const { fields, signature, node_id } = parseReceipt(atoma);
    if (fields.stackId !== stack.stackId || BigInt(node_id) !== stack.nodeId) return undefined;
    await assertResponseSigner(client.domain, fields, signature, stack.nodeSigner);
    shown = { fields, signature };
  } catch {
    return undefined;
  }
  const found = contradiction(shown.fields, client);
  if (found === undefined) return { units: shown.fields.cumulativeUnits };
  const why = "lie" in found ? found.lie : found.unproven;
  client.keepShown(shown, `shown in a stack_exhausted refusal: ${why}`);
  return "lie" in found ? found : { ...found, units: shown.fields.cumulativeUnits };
}

/**
 * Why the shown last leaf contradicts the client's records (or why they cannot tell), or undefined when it agrees
 * with them.
 */
function contradiction(
  f: SignedResponseFields,
  client: StackClient,
): { lie: string } | { unproven: string } | undefined {
  const lie = contradictionText(f, client);
  if (lie === undefined) return undefined;
  return typeof lie === "string" ? { lie } : lie;
}

function contradictionText(
  f: SignedResponseFields,
  client: StackClient,
): string | { unproven: string } | undefined {
  const leaf = client.nextNonce - 1n;
  if (f.leafIndex !== leaf || f.nonce !== leaf)
    return `the receipt it showed is for leaf ${f.leafIndex} with nonce ${f.nonce}, not the last leaf ${leaf} below the refused request`;
  const kept = client.receipts.find((r) => r.fields.leafIndex === leaf && r.fields.nonce === leaf);
  if (kept) {
    if (sameLeaf(kept.fields, f))
      return client.isRefused(kept)
        ? `the receipt it showed for leaf ${leaf} is one the client refused (running total ${f.cumulativeUnits})`
        : undefined;
    return `it signed leaf ${leaf} twice: running total ${kept.fields.cumulativeUnits} when it served it, ${f.cumulativeUnits} in its refusal`;
  }
  const gap = client.signedUnitsThrough(leaf);
  // Reused with no receipts at hand (a restart), after following the nonce the node named: the total it signs at the
  // leaf below is its word alone, and an honest node whose stack is used up says the same. Kept for the challenge.
  if (gap === undefined)
    return {
      unproven: `the receipt it showed has a running total of ${f.cumulativeUnits} at leaf ${leaf}, on a stack the client holds no receipts for`,
    };
  const bound = client.signedBounds.get(leaf) ?? 0n;
  if (f.units > bound)
    return `the receipt it showed bills ${f.units} units at leaf ${leaf}, the owner signed ${bound}`;
  const most = (client.lastAccepted?.fields.cumulativeUnits ?? 0n) + gap;
  if (f.cumulativeUnits > most)
    return `the receipt it showed has a running total of ${f.cumulativeUnits} at leaf ${leaf}, the receipts and bounds the owner signed allow ${most}`;
  return undefined;
}
