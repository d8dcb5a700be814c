import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  computeUnits,
  LEAF_READ_HEADERS,
  LEAF_READ_MAX_AHEAD_SECONDS,
  NO_REQUEST_NAMED,
  responseHash,
  signLeafRead,
} from "@atoma/core";
import type { EmbeddedEngine, TinyModelFile } from "@atoma/engine";
import { readStackLeaf, type StackClient } from "@atoma/sdk";
import { type Hex, type LocalAccount, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Accounting } from "../src/accounting/accounting.js";
import { apiNode, startTinyEngine, waitForStack } from "../src/devnet/index.js";
import type { AtomaNode } from "../src/service/createNode.js";
import { stackClientFor } from "./helpers/stackClientFor.js";
import { type RegisteredNode, type StackNetwork, startStackNetwork } from "./helpers/stackNetwork.js";

/**
 * Issue 13's last item, the node's side: `GET /v1/stacks/{id}/leaves/{nonce}` shows a stack's owner the leaf the
 * node committed at a nonce (its receipt, signed as an answer's, and the owner's signed request, hashes only), so an
 * owner whose other client used a nonce can tell so from a node withholding a receipt. Everyone else is refused.
 */
describe("the owner's leaf read (a real node, anvil, the tiny engine)", () => {
  const root = mkdtempSync(join(tmpdir(), "atoma-leaf-read-"));
  let network: StackNetwork;
  let engine: EmbeddedEngine;
  let model: TinyModelFile;
  let server: RegisteredNode;
  let node: AtomaNode;
  let owner: LocalAccount;
  let stackId: bigint;
  let client: StackClient;

  beforeAll(async () => {
    network = await startStackNetwork();
    [server] = (await network.registerNodes(1)) as [RegisteredNode];
    const taskId = await network.newTask([server]);
    await network.nextEpoch();
    ({ engine, model } = await startTinyEngine());
    node = apiNode({ network, node: server, engine, model, dataDir: join(root, "node") }).node;
    await node.start();
    const buyer = await network.owner();
    owner = buyer.account;
    ({ stackId } = await network.buy(buyer.ctx, taskId, 100_000n));
    await waitForStack(node, stackId);
    client = stackClientFor(network, server, node, owner, stackId);
  }, 120_000);
  afterAll(async () => {
    await node?.stop();
    await engine?.stop();
    await network?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const domain = () => client.domain;
  const nowSeconds = () => BigInt(Math.floor(Date.now() / 1000));
  const salt = () => toHex(crypto.getRandomValues(new Uint8Array(32)));

  /** The headers of a read of `nonce` signed by `signer` (the owner unless told), `deadline` ahead. */
  async function readHeaders(nonce: bigint, options: { signer?: LocalAccount; ahead?: bigint } = {}) {
    const deadline = nowSeconds() + (options.ahead ?? 60n);
    const fields = { stackId, nonce, deadline, salt: salt(), reqHash: NO_REQUEST_NAMED };
    const signature = await signLeafRead(options.signer ?? owner, domain(), fields);
    return {
      [LEAF_READ_HEADERS.deadline]: deadline.toString(),
      [LEAF_READ_HEADERS.salt]: fields.salt,
      [LEAF_READ_HEADERS.signature]: signature,
    } as Record<string, string>;
  }

  const get = (path: string, headers: Record<string, string>) => fetch(`${node.url}${path}`, { headers });

  async function expectError(answer: Response, status: number, code: string) {
    const body = (await answer.json()) as { error: { code: string; type: string; message: string } };
    expect({ status: answer.status, code: body.error.code }).toEqual({ status, code });
    expect(body.error.message.length).toBeGreaterThan(0);
    expect(typeof body.error.type).toBe("string");
  }

  it("shows the owner the very receipt its request got, and the request signed, with hashes only", async () => {
    const secret = "the owner's private prompt";
    const answered = await client.chat({
      model: model.id,
      messages: [{ role: "user", content: secret }],
      max_tokens: 4,
    });
    const answer = await get(`/v1/stacks/${stackId}/leaves/0`, await readHeaders(0n));
    expect(answer.status).toBe(200);
    const text = await answer.text();
    expect(text).not.toContain(secret);
    const body = JSON.parse(text) as { object: string; atoma: unknown; request: Record<string, string> };
    expect(body.object).toBe("stack.leaf");
    expect(body.atoma).toEqual(answered.atoma);
    expect(body.request.request_hash).toBe(answered.fields.reqHash);
    expect(Object.keys(body.request).sort()).toEqual([
      "deadline",
      "max_units",
      "nonce",
      "request_hash",
      "signature",
    ]);
    // The SDK's reader checks the node's signature and the owner's, at that nonce.
    const shown = await readStackLeaf({
      nodeUrl: node.url,
      account: owner,
      domain: domain(),
      stackId,
      nonce: 0n,
      nodeSigner: server.signerAccount.address,
      nodeId: server.nodeId,
    });
    expect(shown.receipt.signature).toBe(answered.atoma.signature);
    expect(shown.request.nonce).toBe(0n);
    // The answer committed, shown with the leaf (review 2 of h-gw, MEDIUM-D): the one its receipt's response hash
    // signs, whose usage is the units billed, so a leaf billing past its answer is a fraud proof.
    const response = shown.answer?.response as {
      usage: { prompt_tokens: number; completion_tokens: number };
    };
    expect(responseHash(response)).toBe(answered.fields.respHash);
    expect(computeUnits(response.usage)).toBe(answered.fields.units);
    // A read that adopts or audits the leaf wants no answer (review 3 of h-gw, MEDIUM-6): the node leaves it out.
    const bare = await get(`/v1/stacks/${stackId}/leaves/0?answer=0`, await readHeaders(0n));
    expect(bare.status).toBe(200);
    const bareBody = (await bare.json()) as Record<string, unknown>;
    expect(bareBody.atoma).toEqual(answered.atoma);
    expect(bareBody).not.toHaveProperty("response");
  }, 60_000);

  it("shows the leaf to a client whose clock runs a minute ahead of the node's (review MED-4)", async () => {
    // The client signs by its own clock; the node checks the deadline by its own, once the read reaches it.
    const realNow = Date.now;
    Date.now = () => realNow() + 60_000;
    const shown = await readStackLeaf({
      nodeUrl: node.url,
      account: owner,
      domain: domain(),
      stackId,
      nonce: 0n,
      nodeSigner: server.signerAccount.address,
      nodeId: server.nodeId,
      fetch: (input, init) => {
        Date.now = realNow;
        return fetch(input, init);
      },
    }).finally(() => {
      Date.now = realNow;
    });
    expect(shown.request.nonce).toBe(0n);
  }, 60_000);

  it("answers 404 leaf_not_found where it committed nothing, and 404 unknown_stack for a stack it does not hold", async () => {
    await expectError(
      await get(`/v1/stacks/${stackId}/leaves/7`, await readHeaders(7n)),
      404,
      "leaf_not_found",
    );
    await expect(
      readStackLeaf({
        nodeUrl: node.url,
        account: owner,
        domain: domain(),
        stackId,
        nonce: 7n,
        nodeSigner: server.signerAccount.address,
      }),
    ).rejects.toMatchObject({ code: "leaf_not_found", status: 404 });
    await expectError(await get(`/v1/stacks/999999/leaves/0`, await readHeaders(0n)), 404, "unknown_stack");
  });

  // Review of h-gw, HIGH-1: a request the node still answers (held, not committed) may yet commit at its nonce. A
  // `leaf_not_found` there made the owner free the nonce and sign its next request on it: a collision it blamed on
  // the node. The read says the request is in flight instead; released, the nonce reads as free again.
  it("answers 409 request_in_flight at the nonce of a request it holds and has not committed yet", async () => {
    const row = await node.context.db
      .selectFrom("stacks")
      .select(["leaf_count", "serving_node_id"])
      .where("stack_id", "=", stackId)
      .executeTakeFirstOrThrow();
    const nonce = row.leaf_count;
    const accounting = new Accounting({ db: node.context.db }, { nodeId: row.serving_node_id });
    const held = await accounting.reserve({ stackId, units: 5n, nonce });
    try {
      await expectError(
        await get(`/v1/stacks/${stackId}/leaves/${nonce}`, await readHeaders(nonce)),
        409,
        "request_in_flight",
      );
      // Past the held nonce nothing is in flight: no leaf there.
      await expectError(
        await get(`/v1/stacks/${stackId}/leaves/${nonce + 1n}`, await readHeaders(nonce + 1n)),
        404,
        "leaf_not_found",
      );
    } finally {
      await accounting.release(held);
    }
    await expectError(
      await get(`/v1/stacks/${stackId}/leaves/${nonce}`, await readHeaders(nonce)),
      404,
      "leaf_not_found",
    );
  });

  // Review 2 of h-gw, MEDIUM-B: the read looked for the leaf, then for a request in flight. A request committed between
  // the two was seen in neither: "no leaf" for a leaf it had just committed. The owner then signs its next request at
  // that nonce, meets nonce_reused, and takes the honest node for a liar. Here the commit lands right after the read's
  // leaf lookup (the node's own database, paused there once): the read says in flight, then shows the leaf.
  it("never answers leaf_not_found at the nonce of a request it commits while the read runs", async () => {
    const db = node.context.db;
    const row = await db
      .selectFrom("stacks")
      .select(["leaf_count", "serving_node_id"])
      .where("stack_id", "=", stackId)
      .executeTakeFirstOrThrow();
    const nonce = row.leaf_count;
    const accounting = new Accounting({ db }, { nodeId: row.serving_node_id });
    const held = await accounting.reserve({ stackId, units: 5n, nonce });
    const hash = `0x${"ab".repeat(32)}` as const;
    let committed = false;
    const commitOnce = async () => {
      if (committed) return;
      committed = true;
      await accounting.commit(held, { units: 5n, reqHash: hash, respHash: hash, seed: 0n, request: {} });
    };
    const unpause = afterLookupsOf(db, "leaves", commitOnce);
    try {
      await expectError(
        await get(`/v1/stacks/${stackId}/leaves/${nonce}`, await readHeaders(nonce)),
        409,
        "request_in_flight",
      );
    } finally {
      unpause();
    }
    expect(committed).toBe(true);
    expect((await get(`/v1/stacks/${stackId}/leaves/${nonce}`, await readHeaders(nonce))).status).toBe(200);
  });

  // A request that comes in flight after the read's own checks, while its denial is being recorded: the denial is
  // recorded first, then the nonce looked at again (`deny`): the read is answered 409 unsigned, and the record stays,
  // so that very request is never committed there (it is the owner's own, racing its read).
  it("signs no denial for a request that came in flight as it was recorded, and never commits that request", async () => {
    const db = node.context.db;
    const row = await db
      .selectFrom("stacks")
      .select(["leaf_count", "serving_node_id"])
      .where("stack_id", "=", stackId)
      .executeTakeFirstOrThrow();
    const nonce = row.leaf_count;
    const reqHash = `0x${"cd".repeat(32)}` as const;
    const accounting = new Accounting({ db }, { nodeId: row.serving_node_id });
    let held: Awaited<ReturnType<Accounting["reserve"]>> | undefined;
    const unpause = afterInsertsInto(db, "denied_leaves", async () => {
      held ??= await accounting.reserve({ stackId, units: 5n, nonce });
    });
    const deadline = nowSeconds() + 60n;
    const fields = { stackId, nonce, deadline, salt: salt(), reqHash };
    try {
      const answer = await get(`/v1/stacks/${stackId}/leaves/${nonce}`, {
        [LEAF_READ_HEADERS.deadline]: deadline.toString(),
        [LEAF_READ_HEADERS.salt]: fields.salt,
        [LEAF_READ_HEADERS.signature]: await signLeafRead(owner, domain(), fields),
        [LEAF_READ_HEADERS.requestHash]: reqHash,
      });
      const body = (await answer.json()) as { error: { code: string }; denial?: unknown };
      expect({ status: answer.status, code: body.error.code, denial: body.denial }).toEqual({
        status: 409,
        code: "request_in_flight",
        denial: undefined,
      });
    } finally {
      unpause();
    }
    expect(held).toBeDefined();
    const committing = accounting.commit(held!, {
      units: 5n,
      reqHash,
      respHash: reqHash,
      seed: 0n,
      request: {},
    });
    await expect(committing).rejects.toMatchObject({ code: "leaf_denied" });
    await accounting.release(held!);
  });

  it("refuses anyone but the owner, a forged signature, and missing or stale headers (401)", async () => {
    const stranger = privateKeyToAccount(generatePrivateKey());
    const theirs = await readHeaders(0n, { signer: stranger });
    await expectError(await get(`/v1/stacks/${stackId}/leaves/0`, theirs), 401, "invalid_signature");
    // The owner's signature over another nonce does not open this one.
    const other = await readHeaders(1n);
    await expectError(await get(`/v1/stacks/${stackId}/leaves/0`, other), 401, "invalid_signature");
    const forged = { ...(await readHeaders(0n)), [LEAF_READ_HEADERS.signature]: `0x${"ab".repeat(65)}` };
    await expectError(await get(`/v1/stacks/${stackId}/leaves/0`, forged), 401, "invalid_signature");
    await expectError(await get(`/v1/stacks/${stackId}/leaves/0`, {}), 401, "invalid_signature");
    const past = await readHeaders(0n, { ahead: -5n });
    await expectError(await get(`/v1/stacks/${stackId}/leaves/0`, past), 401, "invalid_signature");
    const far = await readHeaders(0n, { ahead: BigInt(LEAF_READ_MAX_AHEAD_SECONDS) + 60n });
    await expectError(await get(`/v1/stacks/${stackId}/leaves/0`, far), 401, "invalid_signature");
  });

  it("answers each signed read once: a replay is 409 leaf_read_replayed, one with its signature's v respelled 401", async () => {
    const headers = await readHeaders(0n);
    expect((await get(`/v1/stacks/${stackId}/leaves/0`, headers)).status).toBe(200);
    await expectError(await get(`/v1/stacks/${stackId}/leaves/0`, headers), 409, "leaf_read_replayed");
    const signature = headers[LEAF_READ_HEADERS.signature] as Hex;
    const v = Number.parseInt(signature.slice(130), 16);
    const respelled = `${signature.slice(0, 130)}${(v >= 27 ? v - 27 : v + 27).toString(16).padStart(2, "0")}`;
    const again = { ...headers, [LEAF_READ_HEADERS.signature]: respelled };
    // v 0/1 is no signature at all (as on-chain): never a second answer to the same read.
    const respelledAnswer = await get(`/v1/stacks/${stackId}/leaves/0`, again);
    expect(respelledAnswer.status).toBe(401);
  });

  it("refuses an odd nonce with 400 invalid_input before reading anything", async () => {
    const headers = await readHeaders(0n);
    for (const nonce of ["-1", "abc", "1.5", "0x1", "01", (1n << 256n).toString(), "9".repeat(79)])
      await expectError(await get(`/v1/stacks/${stackId}/leaves/${nonce}`, headers), 400, "invalid_input");
  });
});

/**
 * Runs `between` after each lookup in `table` through `db` itself (not its transactions), before the caller sees the
 * result: what another request commits between two reads of the same route. Returns the undo.
 */
function afterLookupsOf(
  db: AtomaNode["context"]["db"],
  table: string,
  between: () => Promise<void>,
): () => void {
  const original = db.selectFrom.bind(db);
  const wrap = <T extends object>(builder: T): T =>
    new Proxy(builder, {
      get(target, prop) {
        const value = Reflect.get(target, prop) as unknown;
        if (typeof value !== "function") return value;
        if (prop === "execute" || prop === "executeTakeFirst")
          return async (...args: unknown[]) => {
            const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            await between();
            return result;
          };
        return (...args: unknown[]) => {
          const next = (value as (...a: unknown[]) => unknown).apply(target, args);
          return typeof next === "object" && next !== null && "executeTakeFirst" in next ? wrap(next) : next;
        };
      },
    });
  Object.assign(db, {
    selectFrom: (from: string) => (from === table ? wrap(original(from as never)) : original(from as never)),
  });
  return () => {
    delete (db as { selectFrom?: unknown }).selectFrom;
  };
}

/** Runs `after` once each insert into `table` through `db` itself has run, before its caller goes on. Returns the undo. */
function afterInsertsInto(
  db: AtomaNode["context"]["db"],
  table: string,
  after: () => Promise<void>,
): () => void {
  const original = db.insertInto.bind(db);
  const wrap = <T extends object>(builder: T): T =>
    new Proxy(builder, {
      get(target, prop) {
        const value = Reflect.get(target, prop) as unknown;
        if (typeof value !== "function") return value;
        if (prop === "execute" || prop === "executeTakeFirst")
          return async (...args: unknown[]) => {
            const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            await after();
            return result;
          };
        return (...args: unknown[]) => {
          const next = (value as (...a: unknown[]) => unknown).apply(target, args);
          return typeof next === "object" && next !== null && "execute" in next ? wrap(next) : next;
        };
      },
    });
  Object.assign(db, {
    insertInto: (into: string) => (into === table ? wrap(original(into as never)) : original(into as never)),
  });
  return () => {
    delete (db as { insertInto?: unknown }).insertInto;
  };
}
