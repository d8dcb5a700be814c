import {
  attestationStanding,
  getAttestation,
  gpuRequired,
  nodeRegistryAbi,
  readNodeIdOfSigner,
} from "@atoma/chain/portable";
import {
  type AttestationPolicy,
  type AttestationVerdict,
  type ChainListedPolicy,
  type Freshness,
  type HexString,
  parseEvidence,
  verifyAttestation,
  verifyAttestationChainListed,
} from "@atoma/confidential";
import { evidenceHash, measurementHash } from "@atoma/core";
import type { Address } from "viem";
import { GatewayRequestError, ResponseVerificationError } from "../errors.js";
import type { readContext } from "../network.js";
import { readJsonCapped } from "../readBodyCapped.js";
import { checkSessionTask, type SessionPlacement } from "./gatewaySessionTask.js";

const MAX_EVIDENCE_BYTES = 2 * 1024 * 1024;
/** What a node may ask to be waited for, at most, per try (the gateway bounds it to 60 s as well). */
const MAX_RETRY_AFTER_S = 60;

/** The session fields the attestation needs. */
export interface AttestedSession extends SessionPlacement {
  id: string;
  node_signer: Address;
  /** When the gateway lets the unused session go (unix seconds): no wait runs past it. */
  expires_at?: number | undefined;
}

/**
 * What a gateway-mode client trusts: a local allow-list of measurements (on top of the chain's), or `"chain"`: the
 * chain's allow-list alone, as direct mode takes it (the record must name the evidence's measurements, and the
 * registry stand it on the session's task).
 */
export type SessionPolicy = AttestationPolicy | (ChainListedPolicy & { measurements: "chain" });

export interface SessionAttestationDeps {
  /** GETs a gateway path with the key's authorization. */
  get: (path: string) => Promise<Response>;
  policy: SessionPolicy;
  chain: ReturnType<typeof readContext>;
  /**
   * How long, in all, a 429 `attestation_rate_limited` is waited out (per its `retry-after`, each wait at most 60 s)
   * before evidence for the same fresh nonce is asked again. @default 2000
   */
  maxWaitMs?: number | undefined;
  /**
   * Take the node's epoch evidence when its fresh quotes stay rate-limited past `maxWaitMs` (the epoch evidence must
   * be exactly the one the node posted on the chain for the current epoch, as in direct mode). `false`: the client
   * never acts on a 429 (a gateway can fake one) and fails with `attestation_rate_limited`, so one user spending the
   * gateway's share of the node's fresh quotes keeps it from being served. @default true
   */
  epochEvidence?: boolean | undefined;
}

/** The node's key checked, which freshness proved the evidence current, and the task the chain puts the stack on. */
export interface SessionAttestation {
  verdict: AttestationVerdict;
  freshness: Freshness;
  taskId: bigint;
}

type Body = Record<string, unknown>;
const isRecord = (value: unknown): value is Body =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The session's node, checked against the chain and its evidence: the key to seal to. The session's task is read
 * from the chain first (`checkSessionTask`: the stack's task, level 3, the model, the node on its allow-list). Then
 * evidence for a fresh nonce: a gateway shares the node's per-source quote budget among all its users, so a 429
 * `attestation_rate_limited` is waited out while its `retry-after` fits in `maxWaitMs` and the same nonce asked again.
 * Still limited, the node's epoch evidence (no quote) is taken (unless `epochEvidence: false`: then the request
 * fails): it must bind the chain's current epoch and be exactly the evidence the chain's record names (its hash,
 * posted by the node), so an old quote replayed does not pass, and a gateway faking the 429 gains nothing the chain
 * does not vouch for. Anything but evidence is an error, never read as evidence.
 */
export async function attestGatewaySession(
  deps: SessionAttestationDeps,
  session: AttestedSession,
  model: string,
): Promise<SessionAttestation> {
  const taskId = await checkSessionTask(deps.chain, session, model);
  const nodeId = BigInt(session.node_id);
  const registered = await readNodeIdOfSigner(
    deps.chain.publicClient,
    deps.chain.addresses.NodeRegistry,
    session.node_signer,
  );
  if (registered !== nodeId)
    throw new ResponseVerificationError(`the session's signer is not node ${nodeId}'s on the chain`);
  const route = `/v1/confidential/sessions/${encodeURIComponent(session.id)}/attestation`;
  const nonce = randomNonce();
  // Waiting past the session's expiry would lose it: the wait ends a second before at the latest.
  const expiresInMs =
    typeof session.expires_at === "number" ? session.expires_at * 1000 - Date.now() - 1_000 : Infinity;
  let waitLeft = Math.min(deps.maxWaitMs ?? 2_000, expiresInMs);
  let limited: GatewayRequestError;
  for (;;) {
    const answer = await deps.get(`${route}?nonce=${nonce}`);
    if (answer.status !== 429) {
      const evidence = await evidenceOf(answer);
      return check(deps, session, nodeId, taskId, evidence, { kind: "nonce", nonce }, undefined);
    }
    const body = await readJsonCapped(answer, MAX_EVIDENCE_BYTES).catch(() => undefined);
    limited = gatewayError(429, body);
    if (limited.gatewayCode !== "attestation_rate_limited") throw limited;
    const seconds = Number(answer.headers.get("retry-after"));
    const waitMs = (Number.isFinite(seconds) ? Math.min(MAX_RETRY_AFTER_S, Math.max(1, seconds)) : 1) * 1000;
    if (waitMs > waitLeft) break;
    waitLeft -= waitMs;
    await new Promise((resolve) => setTimeout(resolve, waitMs));
  }
  if (deps.epochEvidence === false) throw limited;
  // Asked for: the node's epoch evidence, held to the chain's record for the current epoch.
  const epoch = await currentEpoch(deps.chain);
  const evidence = await evidenceOf(await deps.get(route));
  return check(deps, session, nodeId, taskId, evidence, { kind: "epoch", epoch }, epoch);
}

async function check(
  deps: SessionAttestationDeps,
  session: AttestedSession,
  nodeId: bigint,
  taskId: bigint,
  served: unknown,
  freshness: Freshness,
  epoch: bigint | undefined,
): Promise<SessionAttestation> {
  const evidence = parseEvidence(served);
  const expected = { signingAddress: session.node_signer, freshness };
  // With the chain's allow-list, the measurements are held to it below (the record names them, the task stands it).
  const verdict =
    deps.policy.measurements === "chain"
      ? await verifyAttestationChainListed(evidence, deps.policy, expected)
      : await verifyAttestation(evidence, deps.policy, expected);
  // Read after the evidence, the record and the task's word on it at one block: a node that re-posted while its
  // answer was held (same key, a measurement the task no longer or never took) is refused, not judged by the
  // standing of the record it replaced (`checkSessionTask` read that one before any evidence).
  const blockNumber = await deps.chain.publicClient.getBlockNumber();
  const [record, standing, needsGpu] = await Promise.all([
    getAttestation(deps.chain, nodeId, { blockNumber }),
    attestationStanding(deps.chain, { taskId, nodeId, blockNumber }),
    gpuRequired(deps.chain, { taskId, blockNumber }),
  ]);
  // A task that requires GPUs: the node's own declaration on the chain proves nothing (nobody on-chain checks the
  // token), so the client checks the token whatever its policy said (a node may strip it from the evidence it serves,
  // the epoch evidence's hash covering the quote alone).
  if (needsGpu && verdict.gpu === undefined)
    throw new ResponseVerificationError(
      evidence.gpuToken === undefined
        ? `task ${taskId} requires GPU evidence and node ${nodeId} sent none`
        : `task ${taskId} requires GPU evidence: give NVIDIA's key set (confidential.gpu) to check node ${nodeId}'s token`,
    );
  const now = BigInt(Math.floor(Date.now() / 1000));
  if (!record || record.expiresAt <= now)
    throw new ResponseVerificationError(`node ${nodeId} holds no unexpired attestation record on the chain`);
  if (standing !== "Ok")
    throw new ResponseVerificationError(
      `node ${nodeId}'s record is not taken on task ${taskId} now (${standing})`,
    );
  if (record.encryptionKey.toLowerCase() !== verdict.binding.encryptionPublicKey.toLowerCase())
    throw new ResponseVerificationError(
      `node ${nodeId}'s evidence binds another key than its on-chain record`,
    );
  // As direct mode: the record is for this kind of evidence, and names these measurements (the chain's word on them).
  if (record.kind !== evidence.kind)
    throw new ResponseVerificationError(
      `node ${nodeId}'s on-chain record is for ${record.kind} evidence, not ${evidence.kind}`,
    );
  if (record.measurement.toLowerCase() !== measurementHash(evidence.kind, verdict.measurements).toLowerCase())
    throw new ResponseVerificationError(
      `node ${nodeId}'s evidence measurements are not the ones its on-chain record names`,
    );
  if (epoch !== undefined) {
    if (record.epoch !== epoch)
      throw new ResponseVerificationError(
        `node ${nodeId}'s on-chain record is for epoch ${record.epoch}, not the chain's ${epoch}`,
      );
    if (record.evidenceHash.toLowerCase() !== evidenceHash(evidence.kind, evidence.quote).toLowerCase())
      throw new ResponseVerificationError(
        `node ${nodeId}'s epoch evidence is not the one its on-chain record names`,
      );
  }
  return { verdict, freshness, taskId };
}

/** The evidence of a 200 `atoma.attestation`; any other answer is the gateway's error. */
async function evidenceOf(answer: Response): Promise<unknown> {
  const body = await readJsonCapped(answer, MAX_EVIDENCE_BYTES).catch(() => undefined);
  if (!answer.ok) throw gatewayError(answer.status, body);
  if (!isRecord(body) || body.object !== "atoma.attestation" || body.evidence === undefined)
    throw new ResponseVerificationError("the gateway's answer is not an atoma.attestation");
  return body.evidence;
}

function currentEpoch(chain: ReturnType<typeof readContext>): Promise<bigint> {
  return chain.publicClient.readContract({
    address: chain.addresses.NodeRegistry,
    abi: nodeRegistryAbi,
    functionName: "currentEpoch",
  });
}

export function gatewayError(status: number, body: unknown): GatewayRequestError {
  const error = isRecord(body) && isRecord(body.error) ? body.error : {};
  const code = typeof error.code === "string" ? error.code : `http_${status}`;
  const message = typeof error.message === "string" ? error.message.slice(0, 500) : "no message";
  return new GatewayRequestError(status, code, message);
}

function randomNonce(): HexString {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `0x${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}` as HexString;
}
