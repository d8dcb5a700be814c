import {
  attestationRegistryAbi,
  type ChainContext,
  getNode,
  getStack,
  nodeRegistryAbi,
} from "@atoma/chain/portable";
import { AttestationKind, type AttestationKindName, evidenceHash } from "@atoma/core";
import { type Hex, isAddressEqual } from "viem";
import { readJsonCapped } from "../readBodyCapped.js";
import { statementSigner } from "./statementSigner.js";

/**
 * A node's `ServedEvidence` statement, served beside its epoch evidence (`GET /v1/attestation`, no nonce): its signer's
 * word that `evidenceHash` is its record on the AttestationRegistry for `epoch`. Kept, it proves a lie on-chain.
 */
export interface KeptStatement {
  nodeId: bigint;
  epoch: bigint;
  evidenceHash: Hex;
  signature: Hex;
}

const MAX_EVIDENCE_BYTES = 2 * 1024 * 1024;
/**
 * Statements kept per node and epoch whose hash the registry had posted in their epoch when kept: they prove nothing,
 * so a few are enough, and a node serving its many posted hashes cannot crowd out the one that convicts it.
 */
export const MAX_POSTED_PER_NODE_EPOCH = 2;
/**
 * Statements kept per node and epoch not posted for it when kept: each is a lie unless the node posts its hash before
 * the epoch ends (gas per hash), so they are never crowded out by posted ones; this bound only caps what a node paying
 * to post hundreds of hashes after serving them could make a client store.
 */
export const MAX_UNPOSTED_PER_NODE_EPOCH = 256;
const HASH = /^0x[0-9a-fA-F]{64}$/;
const SIGNATURE = /^0x[0-9a-fA-F]{130}$/;
const DECIMAL = /^[0-9]{1,30}$/;

/** The statement of a node's `atoma.attestation` answer, when well formed (its signature is not checked here). */
export function statementOfAnswer(body: unknown): KeptStatement | undefined {
  const raw =
    typeof body === "object" && body !== null ? (body as { statement?: unknown }).statement : undefined;
  if (typeof raw !== "object" || raw === null) return undefined;
  const { node_id, epoch, evidence_hash, signature } = raw as Record<string, unknown>;
  if (
    typeof node_id !== "string" ||
    typeof epoch !== "string" ||
    typeof evidence_hash !== "string" ||
    typeof signature !== "string" ||
    !DECIMAL.test(node_id) ||
    !DECIMAL.test(epoch) ||
    !HASH.test(evidence_hash) ||
    !SIGNATURE.test(signature)
  )
    return undefined;
  return {
    nodeId: BigInt(node_id),
    epoch: BigInt(epoch),
    evidenceHash: evidence_hash.toLowerCase() as Hex,
    signature: signature.toLowerCase() as Hex,
  };
}

/**
 * Why a well-formed statement of a node's `atoma.attestation` answer is not bound to what is served beside it, or
 * undefined when it is (or there is no statement): its `evidence_hash` must be `evidenceHash(evidence.kind,
 * evidence.quote)` and its `epoch` the answer's `freshness.epoch` (review F11). A node serving fabricated evidence
 * beside its honest posted statement is judged by the statement alone (nothing to claim), so the mismatch is only
 * seen here: the caller reports it and stops trusting the node's served evidence.
 */
export function statementBinding(body: unknown): string | undefined {
  const statement = statementOfAnswer(body);
  if (statement === undefined) return undefined;
  const { evidence, freshness } = body as { evidence?: unknown; freshness?: unknown };
  const { kind, quote } = (typeof evidence === "object" && evidence !== null ? evidence : {}) as Record<
    string,
    unknown
  >;
  const epoch =
    typeof freshness === "object" && freshness !== null
      ? (freshness as { epoch?: unknown }).epoch
      : undefined;
  if (typeof epoch !== "string" || !DECIMAL.test(epoch) || BigInt(epoch) !== statement.epoch)
    return `the statement is for epoch ${statement.epoch}, the evidence served beside it for ${String(epoch)}`;
  if (typeof kind !== "string" || !(kind in AttestationKind) || typeof quote !== "string")
    return "the evidence served beside the statement has no kind and quote";
  let served: string;
  try {
    served = evidenceHash(kind as AttestationKindName, quote as Hex).toLowerCase();
  } catch {
    return "the evidence served beside the statement is not a quote";
  }
  return served === statement.evidenceHash
    ? undefined
    : `the statement names evidence ${statement.evidenceHash}, the evidence served beside it hashes to ${served}`;
}

/**
 * The statements level-3 nodes served this client (issue 14, C-2), to claim refunds with (`claimRefunds`) once the
 * epoch is over. In memory; `toJSON()` and `new StatementKeeper(saved)` keep them across runs (a claim may come days
 * later: the window is 4 epochs after the stack's challenge window).
 */
export class StatementKeeper {
  readonly #kept = new Map<string, KeptStatement & { posted: boolean }>();

  constructor(saved?: string | readonly (KeptStatement & { posted?: boolean | undefined })[]) {
    const list =
      typeof saved === "string"
        ? (JSON.parse(saved) as Record<string, string | boolean>[]).map((one) => ({
            nodeId: BigInt(String(one.nodeId ?? "")),
            epoch: BigInt(String(one.epoch ?? "")),
            evidenceHash: one.evidenceHash as Hex,
            signature: one.signature as Hex,
            posted: one.posted === true,
          }))
        : (saved ?? []);
    for (const statement of list) this.keep(statement, statement.posted === true);
  }

  /**
   * Keeps a statement (one per node, epoch and hash) with whether the registry had its hash posted in its epoch
   * (`posted`, as `collect` reads it; a caller that does not know says false): at most `MAX_POSTED_PER_NODE_EPOCH`
   * posted ones a node and epoch, and `MAX_UNPOSTED_PER_NODE_EPOCH` others, so posted ones never crowd out a lie.
   * True when kept.
   */
  keep(statement: KeptStatement, posted = false): boolean {
    const named = `${statement.nodeId}:${statement.epoch}:${statement.evidenceHash.toLowerCase()}`;
    if (this.#kept.has(named)) return true;
    const same = [...this.#kept.values()].filter(
      (one) => one.nodeId === statement.nodeId && one.epoch === statement.epoch && one.posted === posted,
    );
    if (same.length >= (posted ? MAX_POSTED_PER_NODE_EPOCH : MAX_UNPOSTED_PER_NODE_EPOCH)) return false;
    this.#kept.set(named, {
      nodeId: statement.nodeId,
      epoch: statement.epoch,
      evidenceHash: statement.evidenceHash.toLowerCase() as Hex,
      signature: statement.signature,
      posted,
    });
    return true;
  }

  /** The node's statements kept, oldest epoch first. */
  statementsOf(nodeId: bigint): KeptStatement[] {
    return [...this.#kept.values()]
      .filter((one) => one.nodeId === nodeId)
      .sort((a, b) => (a.epoch < b.epoch ? -1 : a.epoch > b.epoch ? 1 : 0))
      .map(({ posted: _, ...statement }) => statement);
  }

  /** Every statement kept, as JSON (amounts as decimal text). */
  toJSON(): string {
    return JSON.stringify(
      [...this.#kept.values()].map((one) => ({
        nodeId: String(one.nodeId),
        epoch: String(one.epoch),
        evidenceHash: one.evidenceHash,
        signature: one.signature,
        ...(one.posted ? { posted: true } : {}),
      })),
    );
  }

  /**
   * Fetches the node's epoch evidence (`GET {url}/v1/attestation`, no nonce: it costs the node no quote) and keeps its
   * statement when the node's on-chain signer signed it for this chain's registry, for the chain's current epoch or
   * the one before (a node cannot fill the keeper with statements of epochs to come, nor of long past ones), under
   * `keep`'s caps with whether the registry has its hash posted in its epoch. Undefined when the node served none
   * (or one not its signer's, which proves nothing), or it is not kept. A statement not bound to the evidence and epoch
   * served beside it (`statementBinding`) is still kept (it is the signer's word) and reported to `onUnbound`.
   */
  async collect(
    ctx: Pick<ChainContext, "publicClient" | "addresses">,
    node: { nodeId: bigint; url: string },
    fetcher: typeof fetch = fetch,
    onUnbound?: (nodeId: bigint, why: string) => void,
  ): Promise<KeptStatement | undefined> {
    const answer = await fetcher(new URL("/v1/attestation", node.url), {
      redirect: "error",
      signal: AbortSignal.timeout(10_000),
    });
    if (!answer.ok) {
      await answer.body?.cancel();
      return undefined;
    }
    const body = await readJsonCapped(answer, MAX_EVIDENCE_BYTES);
    const statement = statementOfAnswer(body);
    if (!statement || statement.nodeId !== node.nodeId) return undefined;
    const unbound = statementBinding(body);
    const registry = { address: ctx.addresses.NodeRegistry, abi: nodeRegistryAbi } as const;
    const [signer, chainId, current, [posted, postedIn]] = await Promise.all([
      ctx.publicClient.readContract({ ...registry, functionName: "signerOf", args: [node.nodeId] }),
      ctx.publicClient.getChainId(),
      ctx.publicClient.readContract({ ...registry, functionName: "currentEpoch" }),
      ctx.publicClient.readContract({
        address: ctx.addresses.AttestationRegistry,
        abi: attestationRegistryAbi,
        functionName: "postings",
        args: [statement.nodeId, statement.evidenceHash],
      }),
    ]);
    // The contract's refusals (v 0/1, high s): a statement it would refuse is none here either.
    const recovered = await statementSigner(chainId, ctx.addresses.AttestationRegistry, statement);
    if (recovered === undefined || !isAddressEqual(recovered, signer)) return undefined;
    const epoch = BigInt(current);
    if (statement.epoch > epoch || statement.epoch + 1n < epoch) return undefined;
    if (unbound !== undefined) onUnbound?.(node.nodeId, unbound);
    const honoured = posted && BigInt(postedIn) === statement.epoch;
    return this.keep(statement, honoured) ? statement : undefined;
  }

  /** `collect` for the node that serves `stackId` (its URL as the chain has it now). */
  async collectForStack(
    ctx: Pick<ChainContext, "publicClient" | "addresses">,
    stackId: bigint,
    fetcher: typeof fetch = fetch,
    onUnbound?: (nodeId: bigint, why: string) => void,
  ): Promise<KeptStatement | undefined> {
    const { nodeId } = await getStack(ctx, stackId);
    const { url } = await getNode(ctx, nodeId);
    return this.collect(ctx, { nodeId, url }, fetcher, onUnbound);
  }
}
