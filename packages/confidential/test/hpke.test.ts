import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  fromHex,
  generateEncryptionKeyPair,
  HpkeKeyError,
  HpkeOpenError,
  hpkeSuite,
  openRequest,
  RESPONSE_SALT_BYTES,
  type ResponseOpener,
  type ResponseSealer,
  SEALED_CHUNK_BUCKETS,
  StreamAfterEndError,
  StreamChunkDuplicatedError,
  StreamChunkOutOfOrderError,
  StreamChunkTamperedError,
  StreamTruncatedError,
  sealRequest,
  toHex,
} from "@atoma/confidential";
import { describe, expect, it } from "vitest";

interface Vector {
  info: string;
  ikmE: string;
  skRm: string;
  pkRm: string;
  enc: string;
  encryptions: { aad: string; plaintext: string; ciphertext: string }[];
  exports: { exportContext: string; exportLength: number; exportValue: string }[];
}
const vector = JSON.parse(
  readFileSync(new URL("./fixtures/hpke-rfc9180-x25519-sha256-aes256gcm.json", import.meta.url), "utf8"),
) as Vector;
const hex = (value: string) => fromHex(`0x${value}`, "vector field");
const text = new TextEncoder();
const read = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe("HPKE suite against the RFC 9180 test vector (X25519, HKDF-SHA256, AES-256-GCM, base mode)", () => {
  it("derives the vector's encapsulated key and ciphertexts as sender", async () => {
    const recipientPublicKey = await hpkeSuite.kem.deserializePublicKey(hex(vector.pkRm));
    const sender = await hpkeSuite.createSenderContext({
      recipientPublicKey,
      info: hex(vector.info),
      ekm: hex(vector.ikmE),
    });
    expect(toHex(new Uint8Array(sender.enc))).toBe(`0x${vector.enc}`);
    for (const step of vector.encryptions) {
      const sealed = await sender.seal(hex(step.plaintext), hex(step.aad));
      expect(toHex(new Uint8Array(sealed))).toBe(`0x${step.ciphertext}`);
    }
  });

  it("opens the vector's ciphertexts and reproduces its exported secrets as recipient", async () => {
    const recipient = await hpkeSuite.createRecipientContext({
      recipientKey: await hpkeSuite.kem.deserializePrivateKey(hex(vector.skRm)),
      enc: hex(vector.enc),
      info: hex(vector.info),
    });
    for (const step of vector.encryptions) {
      const opened = await recipient.open(hex(step.ciphertext), hex(step.aad));
      expect(toHex(new Uint8Array(opened))).toBe(`0x${step.plaintext}`);
    }
    for (const item of vector.exports) {
      const secret = await recipient.export(hex(item.exportContext), item.exportLength);
      expect(toHex(new Uint8Array(secret))).toBe(`0x${item.exportValue}`);
    }
  });
});

async function exchange(context?: Uint8Array): Promise<{ sealer: ResponseSealer; opener: ResponseOpener }> {
  const node = await generateEncryptionKeyPair();
  const { request, response: opener } = await sealRequest(
    node.publicKey,
    text.encode("secret prompt"),
    context,
  );
  const { plaintext, response: sealer } = await openRequest(node.privateKey, request, context);
  expect(read(plaintext)).toBe("secret prompt");
  return { sealer, opener };
}

describe("sealed request and answer", () => {
  it("carries a request to the node and a whole answer back, readable only at each end", async () => {
    const node = await generateEncryptionKeyPair();
    const { request, response } = await sealRequest(node.publicKey, text.encode("marker-prompt-4242"));
    expect(Buffer.from(fromHex(request.ciphertext, "c")).includes("marker-prompt-4242")).toBe(false);
    const opened = await openRequest(node.privateKey, request);
    const chunk = opened.response.seal(text.encode("marker-answer-4242"), true);
    expect(Buffer.from(chunk).includes("marker-answer-4242")).toBe(false);
    expect(read(response.open(chunk))).toBe("marker-answer-4242");
    expect(() => response.finish()).not.toThrow();
  });

  it("refuses a request opened with another node's key", async () => {
    const node = await generateEncryptionKeyPair();
    const other = await generateEncryptionKeyPair();
    const { request } = await sealRequest(node.publicKey, text.encode("hello"));
    const run = openRequest(other.privateKey, request);
    await expect(run).rejects.toThrow(HpkeOpenError);
    await expect(run).rejects.toMatchObject({ code: "hpke_open_failed" });
  });

  it("refuses a request whose ciphertext changed, or that was sealed for another context", async () => {
    const node = await generateEncryptionKeyPair();
    const { request } = await sealRequest(node.publicKey, text.encode("hello"), text.encode("model-a"));
    const bytes = fromHex(request.ciphertext, "c");
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    await expect(
      openRequest(node.privateKey, { ...request, ciphertext: toHex(bytes) }, text.encode("model-a")),
    ).rejects.toThrow(HpkeOpenError);
    await expect(openRequest(node.privateKey, request, text.encode("model-b"))).rejects.toThrow(
      HpkeOpenError,
    );
  });

  it("refuses a node key that is not a 32-byte X25519 key", async () => {
    await expect(sealRequest("0x1234", text.encode("x"))).rejects.toThrow(HpkeKeyError);
    const run = sealRequest(`0x${"00".repeat(31)}`, text.encode("x"));
    await expect(run).rejects.toMatchObject({ code: "hpke_key_invalid" });
    await expect(openRequest(`0x${"zz".repeat(32)}`, { enc: "0x", ciphertext: "0x" })).rejects.toThrow(
      HpkeKeyError,
    );
  });
});

describe("a sealed request opened twice (a resend, a stream cut by the gateway then sent again)", () => {
  // Attacker: the gateway lets a sealed answer start, cuts it before commit (the nonce is free again) and resends
  // the identical signed body. The node opens the same HPKE context again; were the answer keys exported from it
  // alone, both generations would be sealed under one AES-GCM key and nonce: c1 ^ c2 = p1 ^ p2 and forgeable tags.
  it("seals each opening under its own salt: no keystream or nonce is reused", async () => {
    const node = await generateEncryptionKeyPair();
    const { request, response: opener } = await sealRequest(node.publicKey, text.encode("SECRET"));
    const first = await openRequest(node.privateKey, request);
    const second = await openRequest(node.privateKey, request);
    const p1 = text.encode('{"id":"chatcmpl-aaaa","content":"The patient has HIV."}');
    const p2 = text.encode('{"id":"chatcmpl-bbbb","content":"The patient has flu."}');
    const c1 = first.response.seal(p1);
    const c2 = second.response.seal(p2);
    const head = 9 + RESPONSE_SALT_BYTES;
    expect(Buffer.from(c1.subarray(0, head)).equals(Buffer.from(c2.subarray(0, head)))).toBe(false);
    const xored = c1.subarray(head).map((v, i) => v ^ (c2[head + i] ?? 0));
    const recovered = p1.map((v, i) => v ^ (xored[i] ?? 0));
    expect(Buffer.from(recovered).toString()).not.toBe(Buffer.from(p2).toString());
    // The client takes the salt from chunk 0 itself: either generation opens, with nothing more to pass.
    expect(read(opener.open(c2))).toBe(read(p2));
  });

  it("refuses a chunk of another opening spliced after chunk 0 (the salt binds the whole answer)", async () => {
    const node = await generateEncryptionKeyPair();
    const { request, response: opener } = await sealRequest(node.publicKey, text.encode("SECRET"));
    const first = await openRequest(node.privateKey, request);
    const second = await openRequest(node.privateKey, request);
    const a0 = first.response.seal(text.encode("a0"));
    second.response.seal(text.encode("b0"));
    const b1 = second.response.seal(text.encode("b1"), true);
    expect(read(opener.open(a0))).toBe("a0");
    expect(() => opener.open(b1)).toThrow(StreamChunkTamperedError);
  });

  it("refuses chunk 0 whose salt was swapped for another", async () => {
    const { sealer, opener } = await exchange();
    const chunk = Uint8Array.from(sealer.seal(text.encode("answer"), true));
    chunk.set(randomBytes(RESPONSE_SALT_BYTES), 9);
    expect(() => opener.open(chunk)).toThrow(StreamChunkTamperedError);
  });
});

describe("streamed answer: each chunk sealed with its sequence number", () => {
  const stream = (sealer: ResponseSealer, parts: string[]) =>
    parts.map((part, i) => sealer.seal(text.encode(part), i === parts.length - 1));

  it("opens chunks in order and completes on the final one", async () => {
    const { sealer, opener } = await exchange();
    const chunks = stream(sealer, ["Hel", "lo ", "world"]);
    expect(chunks.map((chunk) => read(opener.open(chunk))).join("")).toBe("Hello world");
    expect(opener.complete).toBe(true);
    opener.finish();
  });

  it("detects a dropped chunk", async () => {
    const { sealer, opener } = await exchange();
    const [first, , third] = stream(sealer, ["a", "b", "c"]);
    opener.open(first!);
    expect(() => opener.open(third!)).toThrow(StreamChunkOutOfOrderError);
  });

  it("detects reordered chunks", async () => {
    const { sealer, opener } = await exchange();
    const [first, second] = stream(sealer, ["a", "b", "c"]);
    const run = () => opener.open(second!);
    expect(run).toThrow(StreamChunkOutOfOrderError);
    expect(run).toThrow(expect.objectContaining({ code: "stream_chunk_out_of_order" }));
    expect(read(opener.open(first!))).toBe("a");
  });

  it("detects a duplicated chunk", async () => {
    const { sealer, opener } = await exchange();
    const [first] = stream(sealer, ["a", "b"]);
    opener.open(first!);
    expect(() => opener.open(first!)).toThrow(StreamChunkDuplicatedError);
  });

  it("detects a truncated stream: the final chunk never came", async () => {
    const { sealer, opener } = await exchange();
    const [first, second] = stream(sealer, ["a", "b", "c"]);
    opener.open(first!);
    opener.open(second!);
    expect(opener.complete).toBe(false);
    expect(() => opener.finish()).toThrow(StreamTruncatedError);
  });

  it("detects a chunk relabelled with another sequence number or a forged final flag", async () => {
    const { sealer, opener } = await exchange();
    const [first, second] = stream(sealer, ["a", "b", "c"]);
    const relabelled = Uint8Array.from(second!);
    relabelled[7] = 0; // claims to be chunk 0
    expect(() => opener.open(relabelled)).toThrow(StreamChunkTamperedError);
    const cutShort = Uint8Array.from(first!);
    cutShort[8] = 1; // claims to be the last chunk
    expect(() => opener.open(cutShort)).toThrow(StreamChunkTamperedError);
    expect(read(opener.open(first!))).toBe("a");
  });

  it("detects a changed byte in a chunk's ciphertext", async () => {
    const { sealer, opener } = await exchange();
    const chunk = Uint8Array.from(sealer.seal(text.encode("answer"), true));
    chunk[10] = (chunk[10] ?? 0) ^ 0x40;
    expect(() => opener.open(chunk)).toThrow(StreamChunkTamperedError);
  });

  it("refuses a chunk from another request's answer", async () => {
    const one = await exchange();
    const two = await exchange();
    expect(() => one.opener.open(two.sealer.seal(text.encode("x"), true))).toThrow(StreamChunkTamperedError);
  });

  it("refuses anything after the final chunk, on both sides", async () => {
    const { sealer, opener } = await exchange();
    opener.open(sealer.seal(text.encode("done"), true));
    expect(() => sealer.seal(text.encode("more"))).toThrow(StreamAfterEndError);
    const extra = Uint8Array.from(opener.complete ? new Uint8Array(40) : []);
    expect(() => opener.open(extra)).toThrow(StreamAfterEndError);
  });
});

describe("sealed answer chunks hide each token's length", () => {
  /** A chat stream chunk as the engine sends it, one token of text. */
  const chunkOf = (token: string) =>
    text.encode(
      JSON.stringify({
        id: "chatcmpl-1",
        object: "chat.completion.chunk",
        created: 1_700_000_000,
        model: "atoma-tiny",
        choices: [{ index: 0, delta: { content: token }, finish_reason: null }],
      }),
    );
  const sealedLengths = (sealer: ResponseSealer, tokens: string[]) =>
    tokens.map((token, i) => sealer.seal(chunkOf(token), i === tokens.length - 1).length);

  it("seals every chunk to a size from the bucket set: two answers of as many tokens give the same lengths", async () => {
    const one = await exchange();
    const two = await exchange();
    // The review's example: " patient", " HIV", "." would be 177, 173 and 170 bytes unpadded.
    const a = sealedLengths(one.sealer, [" patient", " HIV", ".", " treatment", "s"]);
    const b = sealedLengths(two.sealer, [".", " a", " consultation", "!", " ok"]);
    expect(a).toEqual(b);
    const bodies = a.map((length, i) => length - 9 - 16 - (i === 0 ? RESPONSE_SALT_BYTES : 0));
    for (const body of bodies) expect(SEALED_CHUNK_BUCKETS).toContain(body);
  });

  it("opens padded chunks to exactly the plaintext sealed, long ones in a larger bucket", async () => {
    const { sealer, opener } = await exchange();
    const long = "x".repeat(3_000);
    for (const [i, token] of ["a", "", long].entries()) {
      const sealed = sealer.seal(chunkOf(token), i === 2);
      expect(SEALED_CHUNK_BUCKETS).toContain(sealed.length - 9 - 16 - (i === 0 ? RESPONSE_SALT_BYTES : 0));
      expect(read(opener.open(sealed))).toBe(read(chunkOf(token)));
    }
    expect(() => opener.finish()).not.toThrow();
  });
});
