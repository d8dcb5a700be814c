import { TaskSecurityLevel as SecurityLevel } from "@atoma/contracts";
import {
  canonicalJson,
  type Hash,
  leafHash,
  leafOf,
  requestHash,
  type SignedResponseFields,
  type StackLeaf,
  StackTree,
  signRequest,
  signResponse,
} from "@atoma/core";
import { type Hex, keccak256, type LocalAccount, stringToBytes, stringToHex } from "viem";
import type { PostedRequest } from "../src/actions/transcriptFallback.js";
import { DEV_PRICE_PER_MILLION, type DevNode, type Devnet, startDevnet } from "../src/devnet/index.js";
import type { ParameterOverrides } from "../src/parameters.js";

export const MODEL = "atoma-tiny";
/** What the test nodes ask per million units (the dev network's price). */
export const PRICE = DEV_PRICE_PER_MILLION;

/** A registered node: its operator and signing accounts, each with its own action context. */
export type TestNode = Pick<DevNode, "nodeId" | "operator" | "signer" | "signerAccount">;

/** One anvil with the whole system deployed and a model registered: one per test file. */
export interface TestNetwork extends Devnet {
  modelId: Hex;
}

/** The echelons the test deployments approve (0–3), each with a fingerprint of its own. */
export const TEST_ECHELONS = [0, 1, 2, 3].map((echelon) => ({
  echelon,
  fingerprint: keccak256(stringToBytes(`test echelon ${echelon}`)),
}));

/** `model` names the registered model (its id is `modelIdOf(model)`). */
export async function startNetwork(parameters?: ParameterOverrides, model = MODEL): Promise<TestNetwork> {
  const devnet = await startDevnet({ parameters, exampleConsumer: true, echelons: TEST_ECHELONS });
  const { modelId } = await devnet.registerModel({ name: model });
  return { ...devnet, modelId };
}

/** Creates a task on the network's model and subscribes `nodes` to it at `price`. */
export function taskWith(
  network: TestNetwork,
  nodes: readonly TestNode[],
  options: { securityLevel: number; replicationPpm?: number; attesters?: number; sampleSize?: number },
): Promise<bigint> {
  return network.addTask({ modelId: network.modelId, nodes, ...options });
}

export { SecurityLevel };

/** What a node served from a stack: owner-signed requests, its responses, the leaves and their tree. */
export interface ServedStack {
  bodies: unknown[];
  reqHashes: Hash[];
  respHashes: Hash[];
  leaves: StackLeaf[];
  /** The bytes each response hash is the hash of (what a dispute committee member shows). */
  outputs: Hex[];
  tree: StackTree;
  requests: PostedRequest[];
  responses: { fields: SignedResponseFields; signature: Hex }[];
}

/**
 * Serves `count` requests of a stack the way a node does: request k is the owner's EIP-712-signed body with
 * nonce k, each response hash is what the engine would produce (`variant` stands for the model that ran:
 * honest attesters recompute with "honest"), `totalUnits` are spread over the requests, and the node signs every
 * response with its running unit total.
 */
export async function serveStack(
  network: TestNetwork,
  stackId: bigint,
  owner: LocalAccount,
  node: TestNode,
  count: number,
  variant = "honest",
  totalUnits = 100n * BigInt(count),
): Promise<ServedStack> {
  const { domain } = network;
  const served: ServedStack = {
    bodies: [],
    reqHashes: [],
    respHashes: [],
    leaves: [],
    outputs: [],
    requests: [],
    responses: [],
    tree: undefined!,
  };
  const each = totalUnits / BigInt(count);
  let cumulative = 0n;
  for (let k = 0; k < count; k++) {
    const body = {
      model: MODEL,
      messages: [{ role: "user", content: `question ${k} of stack ${stackId}` }],
      seed: k,
    };
    const reqHash = requestHash(body);
    const fields = { stackId, reqHash, nonce: BigInt(k), deadline: 2_000_000_000n, maxUnits: 1_000_000n };
    served.bodies.push(body);
    served.reqHashes.push(reqHash);
    served.requests.push({
      body: stringToHex(canonicalJson(body)),
      nonce: fields.nonce,
      deadline: fields.deadline,
      maxUnits: fields.maxUnits,
      signature: await signRequest(owner, domain, fields),
    });
    const units = k === count - 1 ? totalUnits - cumulative : each;
    cumulative += units;
    // A result whose usage carries the leaf's units, as a committee member shows it.
    const usage = { prompt_tokens: Number(units), total_tokens: Number(units) };
    const output = stringToHex(canonicalJson({ answer: `${variant}: answer to ${reqHash}`, usage }));
    const respHash = keccak256(output);
    served.outputs.push(output);
    served.respHashes.push(respHash);
    const response: SignedResponseFields = {
      stackId,
      leafIndex: BigInt(k),
      nonce: BigInt(k),
      reqHash,
      respHash,
      units,
      cumulativeUnits: cumulative,
      seed: BigInt(k),
    };
    served.leaves.push(leafOf(response));
    served.responses.push({
      fields: response,
      signature: await signResponse(node.signerAccount, domain, response),
    });
  }
  served.tree = new StackTree(served.leaves.map(leafHash));
  return served;
}

/**
 * The sampled entries of a served stack, in the order of `indices`: what attesters recompute (response hashes
 * and units), the reveal (leaves, the last leaf, proofs) and the owner-signed requests.
 */
export function sampled(served: ServedStack, indices: readonly bigint[]) {
  const at = indices.map(Number);
  const last = served.leaves.length - 1;
  return {
    reqHashes: at.map((k) => served.reqHashes[k]!),
    sample: {
      respHashes: at.map((k) => served.respHashes[k]!),
      units: at.map((k) => served.leaves[k]!.units),
    },
    sampled: at.map((k) => served.leaves[k]!),
    proofs: at.map((k) => served.tree.proof(k)),
    last: served.leaves[last]!,
    lastProof: served.tree.proof(last),
    requests: at.map((k) => served.requests[k]!),
    outputs: at.map((k) => served.outputs[k]!),
  };
}

export type { Address } from "viem";
