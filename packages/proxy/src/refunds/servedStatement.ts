import { statementOfAnswer, statementSigner } from "@atoma/sdk";
import { type Address, type Hex, isAddressEqual } from "viem";

/** A node's `ServedEvidence` statement, as kept: "this evidence (hash) is my record for that epoch", signed. */
export interface ServedStatement {
  nodeId: bigint;
  epoch: bigint;
  evidenceHash: Hex;
  signature: Hex;
}

/**
 * Keeps what a node served a key's session (`RefundWatcher`); never throws. Who paid for a stack is what each key was
 * charged on it (`stack_charges`), not who opened a session first.
 */
export interface ServedStatementKeeper {
  keepServed(body: unknown, stack: { stackId: bigint; nodeId: bigint; nodeSigner: Address }): Promise<void>;
}

/**
 * The statement in a node's `atoma.attestation` answer (`statement: {node_id, epoch, evidence_hash, signature}`,
 * served beside its epoch evidence), when it is well formed, names `nodeId` and is signed by `signer` on this
 * chain's registry; else undefined (nothing a node could use to make the gateway send a doomed claim).
 */
export async function servedStatementOf(
  body: unknown,
  expected: { nodeId: bigint; signer: Address },
  domain: { chainId: number; registry: Address },
): Promise<ServedStatement | undefined> {
  const statement = statementOfAnswer(body);
  return statement === undefined ? undefined : signedStatement(statement, expected, domain);
}

/** The statement when it names `nodeId` and is signed by `signer` on this chain's registry; else undefined. */
export async function signedStatement(
  statement: ServedStatement,
  expected: { nodeId: bigint; signer: Address },
  domain: { chainId: number; registry: Address },
): Promise<ServedStatement | undefined> {
  if (statement.nodeId !== expected.nodeId || statement.epoch < 0n || statement.epoch >= 2n ** 64n)
    return undefined;
  // The contract's refusals (v 0/1, high s): a statement it would refuse could only make a doomed claim.
  const signer = await statementSigner(domain.chainId, domain.registry, statement);
  return signer !== undefined && isAddressEqual(signer, expected.signer) ? statement : undefined;
}
