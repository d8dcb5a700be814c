import {
  CONFIDENTIAL_FIELD,
  confidentialContext,
  fromHex,
  generateEncryptionKeyPair,
  openRequest,
  SEALED_CHUNK_BUCKETS,
  sealConfidentialRequest,
  sealedRequestSize,
} from "@atoma/confidential";
import { describe, expect, it } from "vitest";

const context = { stackId: 7n, nonce: 3n, deadline: 1_900_000_000n, path: "/v1/chat/completions" };
const chat = (content: string) => ({ model: "m", messages: [{ role: "user", content }], max_tokens: 8 });

/** What a gateway or anyone on the path sees of a sealed request: its ciphertext's length. */
async function sealedLength(publicKey: `0x${string}`, body: Record<string, unknown>): Promise<number> {
  const { body: envelope } = await sealConfidentialRequest(publicKey, body, context);
  return fromHex(envelope[CONFIDENTIAL_FIELD].ciphertext, "ciphertext").length;
}

// Review of the padding commit (MEDIUM-1): the answer's chunks were padded but the request was not, so a gateway
// read each prompt's length, and from a conversation resent whole, each answer's length turn by turn.
describe("a sealed request's length", () => {
  it("is its bucket's, whatever the prompt's length inside it; the node reads the body as sent", async () => {
    const node = await generateEncryptionKeyPair();
    const short = chat("a".repeat(100));
    const longer = chat("a".repeat(101));
    const turn = { ...short, messages: [...short.messages, { role: "assistant", content: "an answer" }] };
    const sizes = await Promise.all([short, longer, turn].map((body) => sealedLength(node.publicKey, body)));
    expect(new Set(sizes).size).toBe(1);
    expect(sizes[0]! - 16).toBe(SEALED_CHUNK_BUCKETS[0]);
    const { body: envelope } = await sealConfidentialRequest(node.publicKey, longer, context);
    const opened = await openRequest(
      node.privateKey,
      envelope[CONFIDENTIAL_FIELD],
      confidentialContext(context),
    );
    expect(JSON.parse(new TextDecoder().decode(opened.plaintext))).toEqual(longer);
  });

  it("rounds to the buckets of the answer's chunks, then to multiples of the largest", () => {
    expect(sealedRequestSize(1)).toBe(512);
    expect(sealedRequestSize(512)).toBe(512);
    expect(sealedRequestSize(513)).toBe(1024);
    expect(sealedRequestSize(65_536)).toBe(65_536);
    expect(sealedRequestSize(65_537)).toBe(131_072);
  });
});
