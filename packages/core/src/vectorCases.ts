import { type Address, type Hex, keccak256, stringToBytes, stringToHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { canonicalJson } from "./canonicalJson.js";
import { CONSENSUS_REFUSAL, consensusLeaf, consensusRoot, consensusSeal } from "./consensusCommitment.js";
import {
  consensusShownOutput,
  disputeVoteCommitment,
  responseOutput,
  sampleClaim,
  UNAVAILABLE_CLAIM,
  voteWork,
} from "./disputeVote.js";
import { atomaDomain, type SignedRequestFields, type SignedResponseFields } from "./eip712.js";
import { type Hash, leafHash, requestHash } from "./hash.js";
import { LeafTree } from "./merkle.js";
import { responseHash } from "./responseResult.js";
import { deriveSeed } from "./seed.js";
import { requestDigest, responseDigest, signRequest, signResponse } from "./signatures.js";
import { signerBindingDigest, signerBindingHash, signSignerBinding } from "./signerBinding.js";
import { costOfUnits } from "./units.js";

/**
 * The shared test vectors: TypeScript and Solidity tests both check `vectors/encodings.json`, and a test
 * regenerates it from these cases, so the encodings cannot drift apart unnoticed.
 * The signers' keys are derived from public strings: they are test keys and hold nothing.
 */
export const vectorSignerSeeds = { owner: "atoma-vectors-owner", node: "atoma-vectors-node" } as const;

const vectorAccount = (seed: string) => privateKeyToAccount(keccak256(stringToBytes(seed)));

const canonicalCases: unknown[] = [
  { b: 2, a: 1, c: { z: [3, 2, 1], y: null } },
  { numbers: [0, -0, 1e21, 1e-7, 0.1, 123456789012345680000, 5e-324], unicode: "é€😀\u000f" },
  { model: "atoma-tiny", messages: [{ role: "user", content: 'Hello, "world"\n' }], temperature: 0.7 },
];

const chatRequest = {
  model: "atoma-tiny",
  messages: [{ role: "user", content: "Say hi" }],
  max_tokens: 16,
  temperature: 0,
  seed: 42,
};

const chatResponse = {
  id: "chatcmpl-123",
  object: "chat.completion",
  created: 1_700_000_000,
  model: "atoma-tiny",
  choices: [{ index: 0, message: { role: "assistant", content: "hi there" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
  atoma: { nodeId: "1" },
};

const completionResponse = {
  id: "cmpl-9",
  object: "text_completion",
  created: 1_700_000_001,
  model: "atoma-tiny",
  choices: [{ index: 0, text: "abc", finish_reason: "length", logprobs: null }],
  usage: { prompt_tokens: 4, completion_tokens: 16, total_tokens: 20 },
};

const embeddingResponse = {
  object: "list",
  model: "atoma-tiny",
  data: [{ object: "embedding", index: 0, embedding: [0.25, -1.5, 3e-8] }],
  usage: { prompt_tokens: 5, total_tokens: 5 },
};

const consensusCases: { output: Hex; units: bigint; n: number }[] = [
  { output: "0x", units: 200n, n: 1 },
  { output: stringToHex("yes"), units: 120n, n: 3 },
  { output: stringToHex('{"action":"buy","amount":"12.5"}'), units: 900_000n, n: 5 },
  { output: CONSENSUS_REFUSAL, units: 0n, n: 2 },
];

function leavesFor(count: number): Hash[] {
  return Array.from({ length: count }, (_, k) =>
    leafHash(keccak256(stringToBytes(`request ${k}`)), keccak256(stringToBytes(`response ${k}`))),
  );
}

export async function buildVectors() {
  const owner = vectorAccount(vectorSignerSeeds.owner);
  const node = vectorAccount(vectorSignerSeeds.node);
  const stacks: Address = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
  const domain = atomaDomain(31337, stacks);
  const reqHash = requestHash(chatRequest);
  const respHash = responseHash(chatResponse);
  const request: SignedRequestFields = { stackId: 7n, reqHash, nonce: 1n, deadline: 1_900_000_000n };
  const response: SignedResponseFields = {
    stackId: 7n,
    leafIndex: 0n,
    reqHash,
    respHash,
    units: 15n,
    cumulativeUnits: 15n,
    seed: BigInt(deriveSeed(reqHash)),
  };
  const stringify = (fields: object) =>
    Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, typeof v === "bigint" ? v.toString() : v]));
  return {
    description:
      "Shared encoding vectors for core (TypeScript) and contracts (Solidity). Regenerate with `npm run vectors -w @atoma/core`.",
    canonicalJson: canonicalCases.map((input) => ({
      input,
      canonical: canonicalJson(input),
      hash: keccak256(stringToBytes(canonicalJson(input))),
    })),
    requestHash: { request: chatRequest, reqHash, seed: deriveSeed(reqHash) },
    responseHash: [chatResponse, completionResponse, embeddingResponse].map((r) => ({
      response: r,
      respHash: responseHash(r),
    })),
    leaf: { reqHash, respHash, leaf: leafHash(reqHash, respHash) },
    merkle: [1, 2, 3, 5, 8].map((count) => {
      const leaves = leavesFor(count);
      const tree = new LeafTree(leaves);
      return { leaves, root: tree.root, proofs: leaves.map((_, k) => tree.proof(k)) };
    }),
    eip712: {
      domain: { name: "Atoma", version: "1", chainId: 31337, verifyingContract: stacks },
      signerSeeds: vectorSignerSeeds,
      owner: owner.address,
      node: node.address,
      request: {
        fields: stringify(request),
        digest: requestDigest(domain, request),
        signature: await signRequest(owner, domain, request),
      },
      response: {
        fields: stringify(response),
        digest: responseDigest(domain, response),
        signature: await signResponse(node, domain, response),
      },
    },
    signerBinding: await (async () => {
      const fields = {
        chainId: 31337,
        registry: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512" as Address,
        operator: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" as Address,
      };
      return {
        ...fields,
        signer: node.address,
        hash: signerBindingHash(fields),
        digest: signerBindingDigest(fields),
        signature: await signSignerBinding(node, fields),
      };
    })(),
    consensus: consensusCases.map(({ output, units, n }, i) => {
      const leaves = Array.from({ length: n }, (_, k) => consensusLeaf(output, units, k + 1, n));
      const root = consensusRoot(output, units, n);
      const salt = keccak256(stringToBytes(`salt ${i}`));
      const requestId = BigInt(i + 1);
      return {
        output,
        units: units.toString(),
        n,
        leaves,
        root,
        seal: {
          requestId: requestId.toString(),
          index: n,
          salt,
          seal: consensusSeal({ requestId, index: n, root, leaf: leaves[n - 1]!, salt }),
        },
      };
    }),
    disputeVote: disputeVoteVector(),
    cost: [
      [1n, 1n],
      [999_999n, 1n],
      [1_000_000n, 3n],
      [1_234_567n, 2_500_000n],
      [0n, 5n],
    ].map(([units, price]) => ({
      units: units!.toString(),
      pricePerMillion: price!.toString(),
      cost: costOfUnits(units!, price!).toString(),
    })),
  };
}

/** A committee member's vote on a two-request sample, from its outputs to its sealed commitment. */
function disputeVoteVector() {
  const nodeId = 5n;
  const disputeId = 3n;
  const salt = keccak256(stringToBytes("atoma-vectors-salt"));
  const outputs = [responseOutput(chatResponse), responseOutput(completionResponse)];
  const respHashes = outputs.map((output) => keccak256(output));
  const claim = sampleClaim(respHashes);
  const { work, parts } = voteWork(nodeId, outputs);
  return {
    nodeId: nodeId.toString(),
    disputeId: disputeId.toString(),
    salt,
    outputs,
    respHashes,
    claim,
    parts,
    work,
    commitment: disputeVoteCommitment(disputeId, nodeId, claim, work, salt),
    unavailable: UNAVAILABLE_CLAIM,
    unavailableCommitment: disputeVoteCommitment(disputeId, nodeId, UNAVAILABLE_CLAIM, keccak256("0x"), salt),
    consensus: (() => {
      const output = stringToHex("The answer is 42.");
      const units = 120n;
      const n = 3;
      return {
        output,
        units: units.toString(),
        n,
        shown: consensusShownOutput(output, units),
        root: consensusRoot(output, units, n),
      };
    })(),
  };
}
