// Confidential compute: verifying a real TDX quote, and what HPKE sealing costs a streamed answer over a socket.
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type Collateral,
  checkMeasurements,
  createDevAuthority,
  generateEncryptionKeyPair,
  issueDevAttestationKey,
  NonceStore,
  openRequest,
  produceDevEvidence,
  type SealedRequest,
  sealRequest,
  verifyAttestation,
  verifyTdxQuote,
} from "@atoma/confidential";
import { percentile, report } from "./lib/report.js";

const ROUNDS = Number(process.argv[2] ?? 20);
/** A streamed chat answer: this many chunks, each an OpenAI-style delta of one short token. */
const CHUNKS = 512;

// --- Attestation: the real Intel TDX quote with its collateral, verified at a time inside its window. ---
const fixtures = new URL("../packages/confidential/test/fixtures/dcap/", import.meta.url);
const quote = new Uint8Array(readFileSync(new URL("tdx_quote", fixtures)));
const collateral = JSON.parse(
  readFileSync(new URL("tdx_quote_collateral.json", fixtures), "utf8"),
) as Collateral;
const nowSeconds = Math.floor(Date.parse("2025-07-01T00:00:00Z") / 1000);

const verifyOnce = () => {
  const verified = verifyTdxQuote(quote, collateral, { nowSeconds, allowedTcbStatuses: ["UpToDate"] });
  checkMeasurements(verified.measurements, [{ mrTd: verified.measurements.mrTd }]);
};
let started = performance.now();
verifyOnce();
report("attestation_verify_first_ms", performance.now() - started, "ms");
const verifyTimes: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  started = performance.now();
  verifyOnce();
  verifyTimes.push(performance.now() - started);
}
report("attestation_verify_ms", percentile(verifyTimes, 50), "ms");
report("attestation_verify_p95_ms", percentile(verifyTimes, 95), "ms");

// The dev kind through the full entry point (quote, allow-list, report data, nonce), for comparison.
const authority = await createDevAuthority();
const devKey = await issueDevAttestationKey(authority);
const node = await generateEncryptionKeyPair();
const register = `0x${"a1".repeat(48)}` as const;
const measured = { mrTd: register, rtmr0: register, rtmr1: register, rtmr2: register, rtmr3: register };
const signingAddress = `0x${"5a".repeat(20)}` as const;
const nonces = new NonceStore();
const devTimes: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const nonce = nonces.issue();
  const freshness = { kind: "nonce", nonce } as const;
  const evidence = produceDevEvidence(devKey, measured, {
    signingAddress,
    encryptionPublicKey: node.publicKey,
    freshness,
  });
  started = performance.now();
  await verifyAttestation(
    evidence,
    { measurements: [{ mrTd: register }], dev: authority },
    {
      signingAddress,
      freshness,
      nonces,
    },
  );
  devTimes.push(performance.now() - started);
}
report("attestation_verify_dev_ms", percentile(devTimes, 50), "ms");

// --- HPKE on a streamed answer: the same chunks over a local HTTP socket, in clear and sealed. ---
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const chunk = (i: number) =>
  JSON.stringify({
    id: "chatcmpl-bench",
    object: "chat.completion.chunk",
    choices: [{ index: 0, delta: { content: ` tok${i}` } }],
  });

async function body(request: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of request) parts.push(part as Buffer);
  return Buffer.concat(parts).toString("utf8");
}

const server = createServer(async (request, response) => {
  const text = await body(request);
  response.writeHead(200, { "content-type": "text/event-stream" });
  if (request.url === "/plain") {
    JSON.parse(text);
    for (let i = 0; i < CHUNKS; i++) response.write(`data: ${chunk(i)}\n\n`);
  } else {
    const { response: sealer } = await openRequest(node.privateKey, JSON.parse(text) as SealedRequest);
    for (let i = 0; i < CHUNKS; i++) {
      const sealed = sealer.seal(encoder.encode(chunk(i)), i === CHUNKS - 1);
      response.write(`data: ${Buffer.from(sealed).toString("base64")}\n\n`);
    }
  }
  response.end();
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** Reads the event stream and hands each event's data to `onEvent`. */
async function readEvents(response: Response, onEvent: (data: string) => void): Promise<void> {
  let pending = "";
  for await (const part of response.body as AsyncIterable<Uint8Array>) {
    pending += decoder.decode(part, { stream: true });
    let end = pending.indexOf("\n\n");
    while (end >= 0) {
      onEvent(pending.slice(6, end));
      pending = pending.slice(end + 2);
      end = pending.indexOf("\n\n");
    }
  }
}

const prompt = JSON.stringify({
  model: "bench",
  messages: [{ role: "user", content: "Say something long." }],
});

async function plainChat(): Promise<number> {
  let received = 0;
  const response = await fetch(`${base}/plain`, { method: "POST", body: prompt });
  await readEvents(response, (data) => {
    JSON.parse(data);
    received++;
  });
  return received;
}

async function sealedChat(): Promise<number> {
  let received = 0;
  const { request, response: opener } = await sealRequest(node.publicKey, encoder.encode(prompt));
  const response = await fetch(`${base}/sealed`, { method: "POST", body: JSON.stringify(request) });
  await readEvents(response, (data) => {
    JSON.parse(decoder.decode(opener.open(Buffer.from(data, "base64"))));
    received++;
  });
  opener.finish();
  return received;
}

try {
  const setup: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    started = performance.now();
    const { request } = await sealRequest(node.publicKey, encoder.encode(prompt));
    await openRequest(node.privateKey, request);
    setup.push(performance.now() - started);
  }
  report("hpke_request_setup_ms", percentile(setup, 50), "ms");
  const plain: number[] = [];
  const sealed: number[] = [];
  await plainChat();
  await sealedChat();
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate so drift in the machine's load falls on both alike.
    started = performance.now();
    if ((await plainChat()) !== CHUNKS) throw new Error("plain stream lost chunks");
    plain.push(performance.now() - started);
    started = performance.now();
    if ((await sealedChat()) !== CHUNKS) throw new Error("sealed stream lost chunks");
    sealed.push(performance.now() - started);
  }
  const plainMs = percentile(plain, 50);
  const sealedMs = percentile(sealed, 50);
  report("hpke_stream_plain_ms", plainMs, "ms");
  report("hpke_stream_sealed_ms", sealedMs, "ms");
  report("hpke_stream_overhead_ratio", sealedMs / plainMs, "x");
  report("hpke_stream_chunks", CHUNKS, "chunks");
} finally {
  server.close();
}
