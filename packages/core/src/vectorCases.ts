import {
  type Address,
  bytesToHex,
  encodeAbiParameters,
  type Hex,
  keccak256,
  stringToBytes,
  stringToHex,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { attestationCommitment, attestationResult } from "./attestationCommitment.js";
import { canonicalJson } from "./canonicalJson.js";
import { CONSENSUS_REFUSAL, consensusLeaf, consensusRoot, consensusSeal } from "./consensusCommitment.js";
import {
  consensusShownOutput,
  disputeVoteCommitment,
  outputUnits,
  responseOutput,
  sampleClaim,
  UNAVAILABLE_CLAIM,
  voteWork,
} from "./disputeVote.js";
import { atomaDomain, type SignedRequestFields, type SignedResponseFields } from "./eip712.js";
import { type Hash, requestHash } from "./hash.js";
import { type LeafDenialFields, leafDenialDigest, signLeafDenial } from "./leafDenial.js";
import { reproducibleResult, responseHash, resultBytes } from "./responseResult.js";
import { deriveSeed } from "./seed.js";
import { requestDigest, responseDigest, signRequest, signResponse } from "./signatures.js";
import { signerBindingDigest, signerBindingHash, signSignerBinding } from "./signerBinding.js";
import { leafHash, type StackLeaf } from "./stackLeaf.js";
import { StackTree } from "./stackTree.js";
import { encodeTranscript, type InputsTranscript, transcriptId } from "./transcript.js";
import { computeUnits, costOfUnits } from "./units.js";

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

/** A chat answer whose request asked for logprobs: the hash covers them. */
const chatLogprobsResponse = {
  id: "chatcmpl-124",
  object: "chat.completion",
  created: 1_700_000_002,
  model: "atoma-tiny",
  choices: [
    {
      index: 0,
      message: { role: "assistant", content: "hi" },
      finish_reason: "stop",
      logprobs: {
        content: [
          {
            token: "hi",
            logprob: -0.125,
            bytes: [104, 105],
            top_logprobs: [
              { token: "hi", logprob: -0.125, bytes: [104, 105] },
              { token: "yo", logprob: -2.5, bytes: [121, 111] },
            ],
          },
        ],
        refusal: null,
      },
    },
  ],
  usage: { prompt_tokens: 12, completion_tokens: 2, total_tokens: 14 },
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

/** Leaf k of a stack: nonce k, 10 + k units, the running total of those. */
function stackLeaves(count: number): StackLeaf[] {
  let total = 0n;
  return Array.from({ length: count }, (_, k) => {
    const units = BigInt(10 + k);
    total += units;
    return {
      leafIndex: BigInt(k),
      nonce: BigInt(k),
      reqHash: keccak256(stringToBytes(`request ${k}`)),
      respHash: keccak256(stringToBytes(`response ${k}`)),
      units,
      cumulativeUnits: total,
    };
  });
}

const decimals = (fields: object) =>
  Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, typeof v === "bigint" ? v.toString() : v]));

/** A three-request version-2 transcript signed by the vector owner, with its id and root. */
async function transcriptVector(owner: ReturnType<typeof vectorAccount>, stacks: Address) {
  const domain = atomaDomain(31337, stacks);
  const bodies = [
    chatRequest,
    { ...chatRequest, seed: 43 },
    { model: "atoma-tiny", prompt: "abc", max_tokens: 16 },
  ];
  const requests: InputsTranscript["requests"] = [];
  const leaves: StackLeaf[] = [];
  let total = 0n;
  for (const [k, body] of bodies.entries()) {
    const fields = {
      stackId: 7n,
      reqHash: requestHash(body),
      nonce: BigInt(k),
      deadline: 1_900_000_000n,
      maxUnits: 4_096n,
    };
    const units = BigInt(15 + k);
    total += units;
    const respHash = keccak256(stringToBytes(`answer ${k}`));
    requests.push({
      body,
      nonce: String(k),
      deadline: fields.deadline.toString(),
      max_units: fields.maxUnits.toString(),
      signature: await signRequest(owner, domain, fields),
      response_hash: respHash,
      units: units.toString(),
      cumulative_units: total.toString(),
    });
    leaves.push({
      leafIndex: BigInt(k),
      nonce: BigInt(k),
      reqHash: fields.reqHash,
      respHash,
      units,
      cumulativeUnits: total,
    });
  }
  const transcript: InputsTranscript = { version: 2, chainId: 31337, stacks, stackId: "7", requests };
  return {
    transcript,
    canonical: new TextDecoder().decode(encodeTranscript(transcript)),
    id: transcriptId(transcript),
    leaves: leaves.map((leaf) => ({ ...decimals(leaf), leaf: leafHash(leaf) })),
    root: new StackTree(leaves.map(leafHash)).root,
  };
}

export async function buildVectors() {
  const owner = vectorAccount(vectorSignerSeeds.owner);
  const node = vectorAccount(vectorSignerSeeds.node);
  const stacks: Address = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
  const domain = atomaDomain(31337, stacks);
  const reqHash = requestHash(chatRequest);
  const respHash = responseHash(chatResponse);
  const request: SignedRequestFields = {
    stackId: 7n,
    reqHash,
    nonce: 1n,
    deadline: 1_900_000_000n,
    maxUnits: 4_096n,
  };
  const response: SignedResponseFields = {
    stackId: 7n,
    leafIndex: 0n,
    nonce: 0n,
    reqHash,
    respHash,
    units: 15n,
    cumulativeUnits: 15n,
    seed: BigInt(deriveSeed(reqHash)),
  };
  const leafDenial: LeafDenialFields = { stackId: 7n, nonce: 1n, reqHash };
  const stringify = decimals;
  return {
    description:
      "Shared encoding vectors for core (TypeScript) and contracts (Solidity). Regenerate with `npm run vectors -w @atoma/core`.",
    canonicalJson: canonicalCases.map((input) => ({
      input,
      canonical: canonicalJson(input),
      hash: keccak256(stringToBytes(canonicalJson(input))),
    })),
    requestHash: { request: chatRequest, reqHash, seed: deriveSeed(reqHash) },
    responseHash: [chatResponse, completionResponse, embeddingResponse, chatLogprobsResponse].map((r) => ({
      response: r,
      respHash: responseHash(r),
      resultBytes: bytesToHex(resultBytes(r)),
      units: computeUnits(reproducibleResult(r).usage).toString(),
    })),
    leaf: stackLeaves(3).map((leaf) => ({ ...decimals(leaf), leaf: leafHash(leaf) })),
    stackTree: [1, 2, 3, 5, 8].map((count) => {
      const leaves = stackLeaves(count).map(leafHash);
      const tree = new StackTree(leaves);
      return { count, leaves, root: tree.root, proofs: leaves.map((_, k) => tree.proof(k)) };
    }),
    attestation: [
      {
        nodeId: 4n,
        respHashes: [respHash],
        units: [15n],
        salt: keccak256(stringToBytes("attestation salt")),
      },
      {
        nodeId: 2n ** 64n + 1n,
        respHashes: [respHash, keccak256(stringToBytes("other")), reqHash],
        units: [15n, 0n, 2n ** 64n - 1n],
        salt: `0x${"ff".repeat(32)}` as Hash,
      },
    ].map((sample) => ({
      nodeId: sample.nodeId.toString(),
      respHashes: sample.respHashes,
      units: sample.units.map(String),
      salt: sample.salt,
      commitment: attestationCommitment(sample.nodeId, attestationResult(sample), sample.salt),
      result: attestationResult(sample),
      // What the old unsalted commitment H(nodeId, result) was: anyone could compute it from the server's claim.
      unsaltedCommitment: keccak256(
        encodeAbiParameters(
          [{ type: "uint256" }, { type: "bytes32" }],
          [sample.nodeId, attestationResult(sample)],
        ),
      ),
    })),
    transcript: await transcriptVector(owner, stacks),
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
      leafDenial: {
        fields: stringify(leafDenial),
        digest: leafDenialDigest(domain, leafDenial),
        signature: await signLeafDenial(node, domain, leafDenial),
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
  const units = outputs.map(outputUnits);
  const claim = sampleClaim({ respHashes, units });
  const { work, parts } = voteWork(nodeId, outputs);
  return {
    nodeId: nodeId.toString(),
    disputeId: disputeId.toString(),
    salt,
    outputs,
    respHashes,
    units: units.map(String),
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
