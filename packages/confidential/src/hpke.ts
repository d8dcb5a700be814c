import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";
import { fromHex, type HexString, toHex } from "./bytes.js";
import { HpkeKeyError, HpkeOpenError } from "./errors.js";
import { ResponseOpener, ResponseSealer, responseSecret } from "./responseStream.js";

/**
 * RFC 9180 suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM (ids 0x0020, 0x0001, 0x0002). The KEM is
 * @hpke/core's own, on the runtime's WebCrypto X25519 (twice as fast here as the pure-JavaScript extension).
 */
export const hpkeSuite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes256Gcm(),
});

const INFO_PREFIX = new TextEncoder().encode("atoma/confidential-request/v1\0");

/** HPKE `info`: a fixed domain tag then the caller's context (what both ends agree the request is for). */
function info(context: Uint8Array): Uint8Array {
  const out = new Uint8Array(INFO_PREFIX.length + context.length);
  out.set(INFO_PREFIX, 0);
  out.set(context, INFO_PREFIX.length);
  return out;
}

/** A node's encryption key pair, raw X25519 bytes as hex; the public half is what its attestation binds. */
export interface EncryptionKeyPair {
  publicKey: HexString;
  privateKey: HexString;
}

export async function generateEncryptionKeyPair(): Promise<EncryptionKeyPair> {
  const pair = await hpkeSuite.kem.generateKeyPair();
  return {
    publicKey: toHex(new Uint8Array(await hpkeSuite.kem.serializePublicKey(pair.publicKey))),
    privateKey: toHex(new Uint8Array(await hpkeSuite.kem.serializePrivateKey(pair.privateKey))),
  };
}

/** A request sealed to a node's key: the encapsulated key and the ciphertext. */
export interface SealedRequest {
  enc: HexString;
  ciphertext: HexString;
}

async function importKey<T>(run: () => Promise<T>, what: string): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw new HpkeKeyError(`${what} is not a valid X25519 key`, { cause: error });
  }
}

/**
 * Seals `plaintext` to the node's attested key. Returns the sealed request and the opener for the answer, whose
 * secret is exported from the same HPKE context: only the holder of the node's private key can produce chunks it
 * accepts, and only this client can read them (the node's salt, in clear in chunk 0, only diversifies the keys).
 */
export async function sealRequest(
  nodePublicKey: HexString,
  plaintext: Uint8Array,
  context: Uint8Array = new Uint8Array(),
): Promise<{ request: SealedRequest; response: ResponseOpener }> {
  const recipientPublicKey = await importKey(
    () => hpkeSuite.kem.deserializePublicKey(fromHex(nodePublicKey, "node encryption key", 32)),
    "the node's encryption key",
  );
  const sender = await hpkeSuite.createSenderContext({ recipientPublicKey, info: info(context) });
  const ciphertext = new Uint8Array(await sender.seal(plaintext));
  return {
    request: { enc: toHex(new Uint8Array(sender.enc)), ciphertext: toHex(ciphertext) },
    response: new ResponseOpener(await responseSecret(sender)),
  };
}

/**
 * The node's side: opens a sealed request and returns the sealer for its answer, with a fresh random salt each
 * call: opening the same request again never reuses an answer key and nonce.
 */
export async function openRequest(
  nodePrivateKey: HexString,
  request: SealedRequest,
  context: Uint8Array = new Uint8Array(),
): Promise<{ plaintext: Uint8Array; response: ResponseSealer }> {
  const recipientKey = await importKey(
    () => hpkeSuite.kem.deserializePrivateKey(fromHex(nodePrivateKey, "node private key", 32)),
    "the node's private key",
  );
  try {
    const recipient = await hpkeSuite.createRecipientContext({
      recipientKey,
      enc: fromHex(request.enc, "encapsulated key", 32),
      info: info(context),
    });
    const plaintext = new Uint8Array(await recipient.open(fromHex(request.ciphertext, "request ciphertext")));
    return { plaintext, response: new ResponseSealer(await responseSecret(recipient)) };
  } catch (error) {
    throw new HpkeOpenError("the sealed request does not open with this node's key", { cause: error });
  }
}
