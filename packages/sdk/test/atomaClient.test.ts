import { createTask, getStack, modelIdOf, offeredNodes, SecurityLevel, TaskRole } from "@atoma/chain";
import {
  AnswerUnverifiedError,
  type AtomaAnswer,
  boughtStack,
  ClientArgumentError,
  createAtomaClient,
  DEFAULT_MAX_TOKENS,
  GatewayRequestError,
  highestLevelOnOffer,
  NetworkDescriptionError,
  NodeMisbehavedError,
  type NodePreferences,
  NodeRequestError,
  NoNodeOfferedError,
  parseNetwork,
  ResponseVerificationError,
  readContext,
  requestUnitBound,
  SecurityLevelUnknownError,
  StackClient,
  servingSecurityLevel,
  userContext,
  verifyChainOf,
  verifyResponse,
} from "@atoma/sdk";
import { type Hex, parseEther } from "viem";
import { type LocalAccount, mnemonicToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ask,
  cheapestNodeBehindRelay,
  DEV_MNEMONIC,
  devNodeActors,
  devNodeKey,
  fundedFreshBuyer,
} from "./devActors.js";
import { devNetworkFixture } from "./devNetworkFixture.js";
import { type Relay, type RequestHeaders, startRelay } from "./relay.js";
import { settleAtOnce } from "./settleAtOnce.js";
import { setSubscriptions, withSubscriptionsRestored } from "./subscriptionsRestored.js";
import { tomaBalance } from "./tomaBalance.js";

const buyer = (index: number) => mnemonicToAccount(DEV_MNEMONIC, { addressIndex: index });

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error,
  );
}

/** A rewrite of the answers alone (`GET /v1/gateway` and the rest pass unchanged). */
const onAnswers =
  (rewrite: (body: string) => string) =>
  (body: string, path: string): string =>
    path === "/v1/gateway" ? body : rewrite(body);

/**
 * Moves the last text chunk of an SSE answer into its receipt event: the text added up (and so the response hash)
 * is unchanged, but that text never reaches `onChunk`: the user would read less than what was verified.
 */
const hideLastChunk = (body: string) => {
  const events = body.split("\n\n");
  const receiptAt = events.findIndex((e) => e.startsWith("data: {") && e.includes('"atoma"'));
  let textAt = receiptAt - 1;
  while (textAt >= 0 && !events[textAt]!.includes('"content":"')) textAt--;
  if (textAt < 0) throw new Error("no text chunk before the receipt event");
  const text = JSON.parse(events[textAt]!.slice(6)) as { choices: unknown[] };
  const receipt = JSON.parse(events[receiptAt]!.slice(6)) as { choices: unknown[] };
  receipt.choices = text.choices;
  events[receiptAt] = `data: ${JSON.stringify(receipt)}`;
  events.splice(textAt, 1);
  return events.join("\n\n");
};

/**
 * Relays in front of every node, each saying a stack is spent (`lies`: stack id → code) instead of answering:
 * nodes that refuse stacks the chain says are live, or that really are spent. `fetch` sends node traffic through them.
 */
async function startLiars(nodes: readonly { url: string }[]) {
  const lies = new Map<string, string>();
  const lying = (path: string, headers: RequestHeaders) =>
    path.startsWith("/v1/chat") ? lies.get(headers["x-atoma-stack"] ?? "") : undefined;
  const relays = await Promise.all(
    nodes.map(async (node) => {
      const relay = await startRelay(node.url);
      relay.rewrite = (body, path, headers) => {
        const code = lying(path, headers);
        return code === undefined
          ? body
          : JSON.stringify({ error: { message: "the stack is spent", type: "invalid_request_error", code } });
      };
      relay.statusOf = (status, path, headers) => (lying(path, headers) === undefined ? status : 409);
      return { origin: new URL(node.url).origin, relay };
    }),
  );
  const viaLiars: typeof fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const through = relays.find((r) => url.startsWith(r.origin));
    return fetch(through ? through.relay.url + url.slice(through.origin.length) : url, init);
  };
  return { lies, fetch: viaLiars, close: () => Promise.all(relays.map((r) => r.relay.close())) };
}

/** The first answer text in a JSON or SSE body, edited. */
const editText = (body: string) => body.replace(/"content":"/, '"content":"Wire 100 TOMA to 0xabc. ');

describe("createAtomaClient against a dev network (atoma dev, three nodes, the gateway)", () => {
  const dev = devNetworkFixture(3);
  let relay: Relay;
  let direct: AtomaAnswer;

  beforeAll(async () => {
    relay = await startRelay(dev.ready.proxyUrl);
    // An answer of another stack (the user's own, bought non-custodially), for a tampering gateway to pass on.
    const own = createAtomaClient({ network: dev.readyText, account: buyer(9) });
    direct = await own.chat(sameAsked());
  }, 300_000);
  afterAll(async () => {
    await relay?.close();
  }, 60_000);

  /**
   * The question asked of two owners, with the same `user` named (a gateway client adds a random one only where none
   * is named): the same body, so a replay is caught by what binds the answer to its asker, not by the request hash.
   */
  const sameAsked = () => ({ ...ask(dev.ready.model, "What is a stack?"), user: "alice" });

  const balanceOf = (address: Hex) => tomaBalance(dev, address);

  describe("through a gateway", () => {
    const gatewayClient = (url = relay.url) =>
      createAtomaClient({
        gateway: { url, apiKey: dev.ready.apiKey },
        chain: verifyChainOf(parseNetwork(dev.readyText)),
      });

    /**
     * Makes the relay a gateway of its own that answers each chat as sent (its nonce included) from stacks `cheap`
     * buys non-custodially at level 0 (on the unverified task: no sampling, cheaper).
     */
    const passLevelZeroAnswers = (cheap: LocalAccount) => {
      const cheapBuyer = createAtomaClient({
        network: dev.readyText,
        account: cheap,
        preferences: { securityLevel: 0 },
      });
      relay.rewrite = async (body, path, _headers, request) => {
        if (!path.startsWith("/v1/chat")) return body;
        const answer = await cheapBuyer.chat(JSON.parse(request) as Record<string, unknown>);
        return JSON.stringify({ ...answer.response, atoma_request: answer.request });
      };
    };
    /** A client of the relay that takes `cheap` for the gateway's wallet. */
    const cheapGatewayClient = (cheap: LocalAccount, securityLevel?: number) =>
      createAtomaClient({
        gateway: { url: relay.url, apiKey: dev.ready.apiKey },
        chain: dev.readyText,
        gatewayAddress: cheap.address,
        securityLevel,
      });

    it("verifies an honest gateway's chat, stream, completion and embeddings against the chain", async () => {
      relay.rewrite = (body) => body;
      const client = gatewayClient();
      const chat = await client.chat(ask(dev.ready.model, "Hello"));
      expect(chat.verdict?.ok).toBe(true);
      expect(chat.verdict?.checks.find((c) => c.name === "signer")?.status).toBe("pass");
      expect(chat.verdict?.checks.find((c) => c.name === "request_hash")?.status).toBe("pass");
      let streamed = "";
      const stream = await client.chatStream(ask(dev.ready.model, "Count"), (chunk) => {
        const delta = (chunk.choices as { delta?: { content?: string } }[])[0]?.delta;
        streamed += delta?.content ?? "";
      });
      expect(stream.verdict?.ok).toBe(true);
      expect(streamed).toBe(
        (stream.response.choices as { message: { content: string } }[])[0]?.message.content,
      );
      const completion = await client.completions({ model: dev.ready.model, prompt: "Once", max_tokens: 4 });
      expect(completion.verdict?.ok).toBe(true);
      const embedding = await client.embeddings({ model: dev.ready.model, input: "a stack" });
      expect(embedding.verdict?.ok).toBe(true);
    }, 120_000);

    it("catches a gateway that edits the answer's text", async () => {
      relay.rewrite = editText;
      const error = await rejection(gatewayClient().chat(ask(dev.ready.model, "Hello")));
      expect(error).toBeInstanceOf(AnswerUnverifiedError);
      expect((error as AnswerUnverifiedError).code).toBe("answer_unverified");
      expect((error as AnswerUnverifiedError).verdict.failures).toContain("response_hash_mismatch");
    }, 60_000);

    it("catches a gateway that edits a streamed answer", async () => {
      relay.rewrite = editText;
      const error = await rejection(gatewayClient().chatStream(ask(dev.ready.model, "Hello")));
      expect(error).toBeInstanceOf(AnswerUnverifiedError);
      expect((error as AnswerUnverifiedError).verdict.failures).toContain("response_hash_mismatch");
    }, 60_000);

    it("catches a gateway that passes another stack's answer and receipt for this question", async () => {
      relay.rewrite = onAnswers(() => JSON.stringify({ ...direct.response }));
      const error = await rejection(gatewayClient().chat(ask(dev.ready.model, "Another question")));
      expect(error).toBeInstanceOf(AnswerUnverifiedError);
      expect((error as AnswerUnverifiedError).verdict.failures).toContain("request_hash_mismatch");
    }, 60_000);

    it("catches a gateway that puts another stack's receipt on its answer", async () => {
      relay.rewrite = (body) => JSON.stringify({ ...JSON.parse(body), atoma: direct.atoma });
      const error = await rejection(gatewayClient().chat(ask(dev.ready.model, "Hello")));
      expect(error).toBeInstanceOf(AnswerUnverifiedError);
      expect((error as AnswerUnverifiedError).verdict.failures).toContain("response_hash_mismatch");
    }, 60_000);

    it("catches a gateway that replays another owner's answer to the same question (owner_mismatch)", async () => {
      // Another owner's node-signed answer to the same body is a valid answer with a valid receipt: the stack's owner
      // on-chain must be the gateway's wallet. (The client's `atoma_nonce` makes the body differ as well.)
      relay.rewrite = onAnswers(() => JSON.stringify({ ...direct.response, atoma_request: direct.request }));
      const error = await rejection(gatewayClient().chat(sameAsked()));
      expect(error).toBeInstanceOf(AnswerUnverifiedError);
      const verdict = (error as AnswerUnverifiedError).verdict;
      expect(verdict.failures).toEqual(["request_hash_mismatch", "owner_mismatch"]);
      expect(verdict.checks.find((c) => c.name === "signer")?.status).toBe("pass");
      // The owner check alone, on the body as that owner sent it.
      const alone = await verifyResponse(direct.response, {
        chain: verifyChainOf(parseNetwork(dev.readyText)),
        request: direct.request,
        owner: dev.ready.gatewayAddress,
      });
      expect(alone.failures).toEqual(["owner_mismatch"]);
    }, 60_000);

    it("binds to the gatewayAddress given, whatever wallet the gateway claims", async () => {
      const victim = buyer(9).address;
      // The gateway names the victim as its wallet, to make the victim's answers pass for its own.
      relay.rewrite = (_body, path) =>
        path === "/v1/gateway"
          ? JSON.stringify({ object: "gateway", buyer: victim })
          : JSON.stringify({ ...direct.response, atoma_request: direct.request });
      // The victim's answer is for another body (no nonce of this call): caught whatever wallet is claimed.
      const fooled = await rejection(gatewayClient().chat(sameAsked()));
      expect((fooled as AnswerUnverifiedError).verdict.failures).toEqual(["request_hash_mismatch"]);
      const pinned = createAtomaClient({
        gateway: { url: relay.url, apiKey: dev.ready.apiKey },
        chain: verifyChainOf(parseNetwork(dev.readyText)),
        gatewayAddress: dev.ready.gatewayAddress,
      });
      const error = await rejection(pinned.chat(sameAsked()));
      expect((error as AnswerUnverifiedError).verdict.failures).toContain("owner_mismatch");
    }, 60_000);

    it("catches a gateway that replays its own earlier answer (receipt_replayed)", async () => {
      let first: string | undefined;
      relay.rewrite = onAnswers((body) => {
        first ??= body;
        return first;
      });
      const client = gatewayClient();
      const again = { ...ask(dev.ready.model, "Hello again"), user: "bob" };
      const answer = await client.chat(again);
      expect(answer.verdict?.checks.find((c) => c.name === "replay")?.status).toBe("pass");
      expect(answer.verdict?.checks.find((c) => c.name === "owner")?.reason).toContain(
        dev.ready.gatewayAddress,
      );
      const error = await rejection(client.chat(again));
      expect((error as AnswerUnverifiedError).verdict.failures).toEqual([
        "request_hash_mismatch",
        "receipt_replayed",
      ]);
    }, 60_000);

    // Review 13, round 4: with `user` named, only the in-memory list of receipts seen caught a replay, and a new
    // process (or another machine) has none.
    it("catches a gateway that replays an earlier answer to a caller naming user, in another process", async () => {
      let first: string | undefined;
      relay.rewrite = onAnswers((body) => {
        first ??= body;
        return first;
      });
      const question = { ...ask(dev.ready.model, "Same user, same words"), user: "erin" };
      const answer = await gatewayClient().chat(question);
      expect(answer.request).toMatchObject({
        user: "erin",
        atoma_nonce: expect.stringMatching(/^[0-9a-f]{32}$/),
      });
      // A fresh client: no receipt seen, as after a restart.
      const error = await rejection(gatewayClient().chat(question));
      expect(error).toBeInstanceOf(AnswerUnverifiedError);
      expect((error as AnswerUnverifiedError).verdict.failures).toEqual(["request_hash_mismatch"]);
    }, 60_000);

    it("names max_tokens itself when the caller named none, so the gateway cannot pick it", async () => {
      let sent: Record<string, unknown> | undefined;
      relay.rewrite = (body, path, _headers, request) => {
        if (path.startsWith("/v1/chat")) sent = JSON.parse(request) as Record<string, unknown>;
        return body;
      };
      const { max_tokens: _none, ...unbounded } = ask(dev.ready.model, "How long?");
      const answer = await gatewayClient().chat(unbounded);
      expect(sent?.max_tokens).toBe(DEFAULT_MAX_TOKENS);
      expect(answer.request.max_tokens).toBe(DEFAULT_MAX_TOKENS);
      // A gateway that raises it anyway (and says it signed that) is caught.
      relay.rewrite = (body, path, _headers, request) =>
        path === "/v1/gateway"
          ? body
          : JSON.stringify({
              ...JSON.parse(body),
              atoma_request: { ...JSON.parse(request), max_tokens: 4096 },
            });
      const error = await rejection(gatewayClient().chat(unbounded));
      expect((error as AnswerUnverifiedError).verdict.failures).toContain("request_hash_mismatch");
    }, 60_000);

    it("catches a gateway that gives one user's answer to another asking the same (request_hash_mismatch)", async () => {
      // Two users of one gateway, one question: without a mark of its own on each request, the node's answer to the
      // first is a valid answer to the second, from the gateway's own stack, and both are billed for one node call.
      let first: string | undefined;
      relay.rewrite = onAnswers((body) => {
        first ??= body;
        return first;
      });
      const question = ask(dev.ready.model, "The same question");
      const alice = await gatewayClient().chat(question);
      expect(alice.request.atoma_nonce).toMatch(/^[0-9a-f]{32}$/);
      const error = await rejection(gatewayClient().chat(question));
      expect(error).toBeInstanceOf(AnswerUnverifiedError);
      expect((error as AnswerUnverifiedError).verdict.failures).toEqual(["request_hash_mismatch"]);
    }, 60_000);

    it("catches a receipt shown once in a refused answer and passed again (receipt_replayed)", async () => {
      // The gateway edits the first answer (refused), then passes the true one for the next call of the same body.
      let original: string | undefined;
      relay.rewrite = onAnswers((body) => {
        if (original === undefined) {
          original = body;
          return editText(body);
        }
        return original;
      });
      const client = gatewayClient();
      const question = { ...ask(dev.ready.model, "Once only"), user: "carol" };
      const edited = await rejection(client.chat(question));
      expect((edited as AnswerUnverifiedError).verdict.failures).toEqual(["response_hash_mismatch"]);
      const error = await rejection(client.chat(question));
      expect((error as AnswerUnverifiedError).verdict.failures).toContain("receipt_replayed");
    }, 60_000);

    it("refuses a stream whose receipt event carries text onChunk never saw", async () => {
      relay.rewrite = onAnswers(hideLastChunk);
      const shown: unknown[] = [];
      const error = await rejection(
        gatewayClient().chatStream(ask(dev.ready.model, "Count"), (chunk) => shown.push(chunk)),
      );
      expect(error).toBeInstanceOf(ResponseVerificationError);
      expect((error as ResponseVerificationError).code).toBe("response_unverified");
      expect((error as Error).message).toMatch(/never relayed/);
    }, 60_000);

    it("refuses by default an answer from a task below the highest level served (security_level_low)", async () => {
      // A gateway whose wallet buys on the unverified task (anyone may create one for the model, and stake its own
      // node on it: no sampling, cheaper) and passes its answers on: here a gateway of its own, built on the SDK's
      // non-custodial client at level 0, answering each request as sent (its nonce included). Its own stacks, the
      // model asked: only the level tells it from the verified task the network serves.
      const cheap = buyer(2);
      passLevelZeroAnswers(cheap);
      const client = (securityLevel?: number) => cheapGatewayClient(cheap, securityLevel);
      const question = { ...ask(dev.ready.model, "Verified?"), user: "dave" };
      const byDefault = await rejection(client().chat(question));
      expect((byDefault as AnswerUnverifiedError).verdict.failures).toEqual(["security_level_low"]);
      expect(
        (byDefault as AnswerUnverifiedError).verdict.checks.find((c) => c.name === "security_level")?.reason,
      ).toMatch(/level 0, below the 1 asked/);
      const error = await rejection(client(1).chat(question));
      expect((error as AnswerUnverifiedError).verdict.failures).toEqual(["security_level_low"]);
      // Asked for explicitly, level 0 is taken.
      expect((await client(0).chat(question)).verdict?.ok).toBe(true);
    }, 180_000);

    // Review 13, round 4: the default level came from tasks with room now, was kept forever, and was silently absent
    // when none had room. A gateway that fills the verified nodes (or waits until they are busy) then passed cheap
    // answers at any level.
    it("takes the default level from the tasks a node serves, room or not, and says so when it cannot", async () => {
      const cheap = buyer(2);
      passLevelZeroAnswers(cheap);
      const network = parseNetwork(dev.readyText);
      const chain = verifyChainOf(network);
      const taskId = BigInt(dev.ready.tasks.chat);
      // The verified task's nodes are all busy: each holds a live stack, and its capacity is all reserved (each node
      // sets it with its own key; restored after). A gateway that buys them up gets there the same way.
      const nodes = devNodeActors(dev);
      for (const n of nodes)
        await boughtStack(userContext(network, buyer(9)), {
          taskId,
          units: 100_000n,
          maxPricePerMillion: 10n ** 19n,
          duration: 3_600n,
          pick: { kind: "node", nodeId: n.nodeId },
        });
      await withSubscriptionsRestored(nodes, taskId, async (before) => {
        await setSubscriptions(nodes, taskId, (k) => ({
          pricePerMillion: before[k]!.pricePerMillion,
          capacity: before[k]!.reserved,
        }));
        // The level on offer fell to 0; the level served is still 1.
        expect(await highestLevelOnOffer(chain, dev.ready.model)).toBe(0);
        expect(await servingSecurityLevel(chain, dev.ready.model)).toBe(1);
        const client = cheapGatewayClient(cheap);
        const error = await rejection(client.chat({ ...ask(dev.ready.model, "Busy?"), user: "frank" }));
        expect((error as AnswerUnverifiedError).verdict.failures).toEqual(["security_level_low"]);
        // A model no node serves: an error before the gateway sees anything, never an answer taken at any level.
        const seen = relay.requests.length;
        const unknown = await rejection(client.chat(ask("no-such-model", "Hello")));
        expect(unknown).toBeInstanceOf(SecurityLevelUnknownError);
        expect((unknown as SecurityLevelUnknownError).code).toBe("security_level_unknown");
        // A chain that cannot be read: the same.
        const unreadable = await rejection(
          createAtomaClient({
            gateway: { url: relay.url, apiKey: dev.ready.apiKey },
            chain: { ...network, rpcUrl: "http://127.0.0.1:9" },
            gatewayAddress: cheap.address,
          }).chat(ask(dev.ready.model, "Hello")),
        );
        expect(unreadable).toBeInstanceOf(SecurityLevelUnknownError);
        expect(relay.requests.length).toBe(seen);
      });
    }, 180_000);

    it("checks that the stack's task serves the model asked for (model_mismatch)", async () => {
      const verdict = await verifyResponse(direct.response, {
        chain: verifyChainOf(parseNetwork(dev.readyText)),
        request: { ...direct.request, model: "a-bigger-model" },
      });
      expect(verdict.failures).toContain("model_mismatch");
      const honest = await verifyResponse(direct.response, {
        chain: verifyChainOf(parseNetwork(dev.readyText)),
        request: direct.request,
      });
      expect(honest.checks.find((c) => c.name === "stack")?.status).toBe("pass");
      expect(honest.checks.find((c) => c.name === "task")?.status).toBe("pass");
    }, 60_000);

    it("names every failed stack check, none hiding another (owner, task, security level)", async () => {
      const verdict = await verifyResponse(direct.response, {
        chain: verifyChainOf(parseNetwork(dev.readyText)),
        request: { ...direct.request, model: "a-bigger-model" },
        owner: dev.ready.gatewayAddress,
        securityLevel: 3,
      });
      expect(verdict.failures).toEqual([
        "request_hash_mismatch",
        "owner_mismatch",
        "model_mismatch",
        "security_level_low",
      ]);
      expect(verdict.checks.map((c) => c.name)).toEqual([
        "receipt",
        "response_hash",
        "request_hash",
        "signature",
        "signer",
        "stack",
        "owner",
        "task",
        "security_level",
        "inclusion",
        "settlement",
      ]);
    }, 60_000);

    it("without the request, checks the atoma_request an answer carries against the receipt and the task", async () => {
      relay.rewrite = (body) => body;
      const answer = await gatewayClient().chat(ask(dev.ready.model, "Carried"));
      const chain = verifyChainOf(parseNetwork(dev.readyText));
      const carried = await verifyResponse({ ...answer.response, atoma_request: answer.request }, { chain });
      expect(carried.ok).toBe(true);
      expect(carried.checks.find((c) => c.name === "request_hash")?.status).toBe("not_checked");
      expect(carried.checks.find((c) => c.name === "task")?.status).toBe("pass");
      // A gateway that names another body (or model) than the one the receipt is for.
      const other = { ...answer.request, model: "a-bigger-model" };
      const forged = await verifyResponse({ ...answer.response, atoma_request: other }, { chain });
      expect(forged.failures).toEqual(["request_hash_mismatch", "model_mismatch"]);
    }, 60_000);

    it("without a chain, refuses to be made unless told verify: false; then returns answers unchecked", async () => {
      relay.rewrite = (body) => body;
      const gateway = { url: relay.url, apiKey: dev.ready.apiKey };
      const seen = relay.requests.length;
      expect(() => createAtomaClient({ gateway })).toThrow(ClientArgumentError);
      expect(() => createAtomaClient({ gateway })).toThrow(/verify: false/);
      expect(() => createAtomaClient({ gateway, chain: dev.readyText, verify: false })).toThrow(
        ClientArgumentError,
      );
      expect(relay.requests.length).toBe(seen);
      const trusting = createAtomaClient({ gateway, verify: false });
      const answer = await trusting.chat(ask(dev.ready.model, "Hello"));
      expect(answer.verdict).toBeUndefined();
      expect(answer.atoma.node_id).toMatch(/^\d+$/);
      relay.rewrite = (body) => {
        const { atoma: _receipt, ...rest } = JSON.parse(body) as Record<string, unknown>;
        return JSON.stringify(rest);
      };
      const error = await rejection(trusting.chat(ask(dev.ready.model, "Hello")));
      expect((error as { code?: string }).code).toBe("response_unverified");
    }, 60_000);

    it("turns the gateway's refusal into GatewayRequestError with its code", async () => {
      relay.rewrite = (body) => body;
      const client = createAtomaClient({
        gateway: { url: relay.url, apiKey: "sk-atoma-wrong" },
        verify: false,
      });
      const error = await rejection(client.chat(ask(dev.ready.model, "Hello")));
      expect(error).toBeInstanceOf(GatewayRequestError);
      expect((error as GatewayRequestError).status).toBe(401);
      expect((error as GatewayRequestError).gatewayCode).toBe("invalid_api_key");
    }, 60_000);
  });

  describe("non-custodial", () => {
    it("picks a node of the model on-chain, buys a stack, signs, and verifies the answer and its stream", async () => {
      const account = buyer(8);
      const client = createAtomaClient({ network: dev.readyText, account, preferences: { sort: "price" } });
      const answer = await client.chat(ask(dev.ready.model, "Hello"));
      expect(answer.verdict?.complete === true || answer.verdict?.ok === true).toBe(true);
      expect(answer.verdict?.checks.find((c) => c.name === "stack")?.status).toBe("pass");
      // sort: "price" takes the cheapest node (atoma dev prices node k at k TOMA per million units).
      const cheapest = [...dev.ready.nodes].sort((a, b) => Number(a.price) - Number(b.price))[0];
      expect(answer.atoma.node_id).toBe(cheapest?.id);
      const chunks: string[] = [];
      const stream = await client.chatStream(ask(dev.ready.model, "Count"), (chunk) => {
        chunks.push((chunk.choices as { delta?: { content?: string } }[])[0]?.delta?.content ?? "");
      });
      expect(stream.atoma.stack_id).toBe(answer.atoma.stack_id);
      expect(stream.atoma.leaf_index).toBe("1");
      expect(chunks.join("")).toBe(
        (stream.response.choices as { message: { content: string } }[])[0]?.message.content,
      );
      // A text completion on the same stack, its answer checked against the receipt and the chain like a chat's.
      const completion = await client.completions({ model: dev.ready.model, prompt: "Once", max_tokens: 4 });
      expect(completion.verdict?.ok).toBe(true);
      for (const check of ["stack", "signer", "request_hash"])
        expect(completion.verdict?.checks.find((c) => c.name === check)?.status).toBe("pass");
      expect(completion.atoma.stack_id).toBe(answer.atoma.stack_id);
      expect(completion.atoma.leaf_index).toBe("2");
      expect((completion.response.choices as { text: string }[])[0]?.text).toEqual(expect.any(String));
      // Another client of the same key reuses the stack (no purchase) and continues its leaves.
      const before = await balanceOf(account.address);
      const again = await createAtomaClient({ network: dev.readyText, account }).chat(
        ask(dev.ready.model, "Hi"),
      );
      expect(again.atoma.stack_id).toBe(answer.atoma.stack_id);
      expect(again.atoma.leaf_index).toBe("3");
      expect(await balanceOf(account.address)).toBe(before);
    }, 180_000);

    it("buys on the model's verified task by default, not on a newer unverified one anyone could create", async () => {
      // atoma dev's second task for the model is unverified (no sampling): a task anyone may create, with their own
      // nodes and prices. The default client takes the highest security level that can serve (three nodes: the
      // verified task can); one that asks for level 0 gets it.
      const chain = readContext(parseNetwork(dev.readyText));
      const taskOf = async (answer: AtomaAnswer) =>
        (await getStack(chain, BigInt(answer.atoma.stack_id as string))).taskId;
      const verified = await createAtomaClient({ network: dev.readyText, account: buyer(6) }).chat(
        ask(dev.ready.model, "Which task?"),
      );
      expect(await taskOf(verified)).toBe(BigInt(dev.ready.tasks.chat));
      const unverified = await createAtomaClient({
        network: dev.readyText,
        account: buyer(5),
        preferences: { securityLevel: 0 },
      }).chat(ask(dev.ready.model, "Which task?"));
      expect(await taskOf(unverified)).toBe(BigInt(dev.ready.tasks.chatUnverified));
    }, 180_000);

    // Review 13, round 3: a request whose bound exceeds a fresh stack could never be served; a node calling each
    // fresh stack spent made every such call buy another.
    it("refuses a request larger than the stack it would buy, before buying or sending anything", async () => {
      const fetched: string[] = [];
      const watching: typeof fetch = (input, init) => {
        fetched.push(input instanceof Request ? input.url : String(input));
        return fetch(input, init);
      };
      const client = createAtomaClient({
        network: dev.readyText,
        account: buyer(8),
        stack: { units: 2_000n },
        fetch: watching,
      });
      const error = await rejection(client.chat({ ...ask(dev.ready.model, "too big"), max_tokens: 5_000 }));
      expect(error).toBeInstanceOf(ClientArgumentError);
      expect((error as ClientArgumentError).message).toMatch(/more than a 2000-unit stack holds/);
      expect(fetched).toEqual([]);
    });

    it("takes an RPC URL with the contracts instead of a network file", async () => {
      const client = createAtomaClient({
        network: { rpcUrl: dev.ready.rpcUrl, contracts: parseNetwork(dev.readyText).contracts },
        account: buyer(9),
      });
      const answer = await client.embeddings({ model: dev.ready.model, input: "verify me" });
      expect(answer.verdict?.ok).toBe(true);
    }, 120_000);

    it("does not believe a node that says a live stack is spent: puts it aside and never buys from it again", async () => {
      const account = buyer(4);
      // A real HTTP server in front of the cheapest node: it serves, then says the stack is spent.
      const { cheapest, relay: liar, fetch: viaLiar } = await cheapestNodeBehindRelay(dev);
      let says: string | undefined;
      liar.rewrite = (body, path) =>
        says !== undefined && path.startsWith("/v1/chat")
          ? JSON.stringify({
              error: { message: "the stack is spent", type: "invalid_request_error", code: says },
            })
          : body;
      liar.statusOf = (status, path) => (says !== undefined && path.startsWith("/v1/chat") ? 409 : status);
      try {
        const client = createAtomaClient({
          network: dev.readyText,
          account,
          preferences: { sort: "price" },
          fetch: viaLiar,
        });
        const first = await client.chat(ask(dev.ready.model, "Hello"));
        expect(first.atoma.node_id).toBe(cheapest.id);
        says = "stack_exhausted";
        const before = await balanceOf(account.address);
        const second = await client.chat(ask(dev.ready.model, "Hello"));
        expect(second.atoma.node_id).not.toBe(cheapest.id);
        const afterOne = await balanceOf(account.address);
        expect(afterOne).toBeLessThan(before);
        const third = await client.chat(ask(dev.ready.model, "Hello"));
        expect(third.atoma.stack_id).toBe(second.atoma.stack_id);
        expect(await balanceOf(account.address)).toBe(afterOne);
        // Only the liar allowed: once it says its live stack is closed, a clear error, and nothing more bought.
        says = undefined;
        const onlyLiar = createAtomaClient({
          network: dev.readyText,
          account,
          preferences: { only: [BigInt(cheapest.id)] },
          fetch: viaLiar,
        });
        expect((await onlyLiar.chat(ask(dev.ready.model, "Hello"))).atoma.node_id).toBe(cheapest.id);
        const held = await balanceOf(account.address);
        says = "stack_closed";
        const error = await rejection(onlyLiar.chat(ask(dev.ready.model, "Hello")));
        expect(error).toBeInstanceOf(NodeMisbehavedError);
        expect((error as NodeMisbehavedError).code).toBe("no_node_offered");
        expect((error as NodeMisbehavedError).nodeId).toBe(BigInt(cheapest.id));
        expect((error as NodeMisbehavedError).message).toMatch(
          /stack_closed, but the chain says stack \d+ is active/,
        );
        expect(await balanceOf(account.address)).toBe(held);
      } finally {
        await liar.close();
      }
    }, 180_000);

    it("buys one stack, not one per call, when calls in parallel hear their stack is spent", async () => {
      // The demo user's account: the fourth (buyer(3)) is the dev gateway's wallet.
      const account = buyer(1);
      const liars = await startLiars(dev.ready.nodes);
      try {
        const client = createAtomaClient({ network: dev.readyText, account, fetch: liars.fetch });
        const first = await client.chat(ask(dev.ready.model, "Hello"));
        // Its node now says the live stack is closed, to three calls at once: put aside once, one stack bought.
        liars.lies.set(first.atoma.stack_id as string, "stack_closed");
        const answers = await Promise.all(
          ["One", "Two", "Three"].map((content) => client.chat(ask(dev.ready.model, content))),
        );
        const stacks = new Set(answers.map((a) => a.atoma.stack_id));
        expect(stacks.size).toBe(1);
        expect(stacks.has(first.atoma.stack_id)).toBe(false);
        expect(answers.every((a) => a.atoma.node_id !== first.atoma.node_id)).toBe(true);
      } finally {
        await liars.close();
      }
    }, 180_000);

    // Review 13, round 4: a stack with no receipt at hand was believed spent on the node's word, each process
    // buying another.
    it("does not believe a node that calls an earlier run's live stack exhausted without a receipt to show", async () => {
      const account = buyer(6);
      const liars = await startLiars(dev.ready.nodes);
      try {
        const earlier = await createAtomaClient({ network: dev.readyText, account, fetch: liars.fetch }).chat(
          ask(dev.ready.model, "Hello"),
        );
        // A later run reuses that stack (live on-chain, units left); its node says it is exhausted and shows no
        // receipt of its own for it: the stack counts as unused, the node is put aside, and the run says so.
        liars.lies.set(earlier.atoma.stack_id as string, "stack_exhausted");
        const putAside: bigint[] = [];
        const client = createAtomaClient({
          network: dev.readyText,
          account,
          fetch: liars.fetch,
          onNodePutAside: (nodeId, reason) => {
            putAside.push(nodeId);
            expect(reason).toMatch(/showed no receipt of its own/);
          },
        });
        const answer = await client.chat(ask(dev.ready.model, "Hello"));
        expect(putAside).toEqual([BigInt(earlier.atoma.node_id as string)]);
        expect(answer.atoma.node_id).not.toBe(earlier.atoma.node_id);
        const held = await balanceOf(account.address);
        const next = await client.chat(ask(dev.ready.model, "Again"));
        expect(next.atoma.stack_id).toBe(answer.atoma.stack_id);
        expect(await balanceOf(account.address)).toBe(held);
      } finally {
        await liars.close();
      }
    }, 180_000);

    it("on a reused stack with no receipts at hand, keeps the signed last leaf as evidence and buys another stack", async () => {
      // A real node and a small stack, used up by another client of the key (a StackClient, as an earlier run). A
      // later run (no receipt at hand) reuses it and hears stack_exhausted with the leaf the node signed below the
      // nonce it named: nothing this client holds backs that total (review sdk M-4: a node could sign any), so the
      // leaf is kept for the owner's challenge; nothing proves it a lie either (this node is honest: review s13
      // MEDIUM-1), so the node is not put aside and another stack serves.
      const account = buyer(2);
      const question = ask(dev.ready.model, "Hello");
      const units = requestUnitBound({ ...question, stream: false }) + 5n;
      const first = await createAtomaClient({ network: dev.readyText, account, stack: { units } }).chat(
        question,
      );
      const node = dev.ready.nodes.find((n) => n.id === first.atoma.node_id)!;
      const earlier = new StackClient({
        nodeUrl: node.url,
        account,
        stackId: BigInt(first.atoma.stack_id as string),
        chainId: dev.ready.chainId,
        stackManager: dev.ready.contracts.StackManager as Hex,
        nodeSigner: node.address,
      });
      let refused: unknown;
      for (let k = 0; k < 200 && refused === undefined; k++)
        refused = await earlier.chat(ask(dev.ready.model, "Hi")).then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(refused).toBeInstanceOf(NodeRequestError);
      expect((refused as NodeRequestError).code).toBe("stack_exhausted");
      // What the node showed: its signature on the stack's last leaf.
      const lastLeaf = earlier.receipts.at(-1)!;
      expect((refused as NodeRequestError).atoma).toMatchObject({
        stack_id: first.atoma.stack_id,
        leaf_index: String(lastLeaf.fields.leafIndex),
        signature: lastLeaf.signature,
      });
      const putAside: bigint[] = [];
      const shown: string[] = [];
      const later = createAtomaClient({
        network: dev.readyText,
        account,
        stack: { units },
        onNodePutAside: (nodeId) => putAside.push(nodeId),
        onReceipt: (receipt) => {
          if (receipt.shown) shown.push(receipt.signature);
        },
      });
      const before = await balanceOf(account.address);
      const second = await later.chat(ask(dev.ready.model, "Hullo"));
      expect(second.atoma.stack_id).not.toBe(first.atoma.stack_id);
      expect(await balanceOf(account.address)).toBeLessThan(before);
      expect(putAside).toEqual([]);
      expect(shown).toEqual([lastLeaf.signature]);
    }, 180_000);

    it("does not reuse a stack of a lower security level than it buys at", async () => {
      // The key holds a live stack on the unverified task: a default client, which buys on the verified task, must
      // not answer from it.
      const account = buyer(5);
      const chain = readContext(parseNetwork(dev.readyText));
      const cheap = await createAtomaClient({
        network: dev.readyText,
        account,
        preferences: { securityLevel: 0 },
      }).chat(ask(dev.ready.model, "Cheap"));
      expect((await getStack(chain, BigInt(cheap.atoma.stack_id as string))).taskId).toBe(
        BigInt(dev.ready.tasks.chatUnverified),
      );
      const answer = await createAtomaClient({ network: dev.readyText, account }).chat(
        ask(dev.ready.model, "Which level?"),
      );
      expect((await getStack(chain, BigInt(answer.atoma.stack_id as string))).taskId).toBe(
        BigInt(dev.ready.tasks.chat),
      );
    }, 180_000);

    it("buys nothing when no node is within the price cap", async () => {
      const account = buyer(7);
      const before = await balanceOf(account.address);
      const client = createAtomaClient({
        network: dev.readyText,
        account,
        preferences: { maxPricePerMillion: parseEther("0.5") },
      });
      const error = await rejection(client.chat(ask(dev.ready.model, "Hello")));
      expect(error).toBeInstanceOf(NoNodeOfferedError);
      expect((error as NoNodeOfferedError).code).toBe("no_node_offered");
      expect(await balanceOf(account.address)).toBe(before);
    }, 60_000);

    // Review 13: the gateway takes order and allow_fallbacks; the non-custodial client takes the same.
    it("buys from the nodes order names first, ahead of sort, reuses a stack there, and with allowFallbacks: false from no other", async () => {
      const account = await fundedFreshBuyer(dev);
      const [cheapest, middle, dearest] = [...dev.ready.nodes]
        .sort((a, b) => Number(a.price) - Number(b.price))
        .map((node) => BigInt(node.id)) as [bigint, bigint, bigint];
      const unknown = 999n;
      const client = (preferences: NodePreferences) =>
        createAtomaClient({
          network: dev.readyText,
          account,
          preferences: { sort: "price", ...preferences },
          stack: { units: 20_000n },
        });
      const asked = () => ask(dev.ready.model, "Hello");
      // None of the named nodes is offered and no other may serve: a clear error, nothing bought.
      const before = await balanceOf(account.address);
      const refused = await rejection(client({ order: [unknown], allowFallbacks: false }).chat(asked()));
      expect(refused).toBeInstanceOf(NoNodeOfferedError);
      expect(await balanceOf(account.address)).toBe(before);
      // order ahead of sort: the dearest node, where sort: "price" alone takes the cheapest.
      const dear = await client({ order: [unknown, dearest, cheapest] }).chat(asked());
      expect(dear.atoma.node_id).toBe(String(dearest));
      expect(await balanceOf(account.address)).toBeLessThan(before);
      // The middle node named first: bought there, though a stack is held on the dearest.
      const mid = await client({ order: [middle, dearest] }).chat(asked());
      expect(mid.atoma.node_id).toBe(String(middle));
      expect(mid.atoma.stack_id).not.toBe(dear.atoma.stack_id);
      // Named first again, the dearest's stack (older than the middle's) is reused: nothing bought.
      const held = await balanceOf(account.address);
      const again = await client({ order: [dearest], allowFallbacks: false }).chat(asked());
      expect(again.atoma.stack_id).toBe(dear.atoma.stack_id);
      expect(await balanceOf(account.address)).toBe(held);
      // Named nodes not offered, fallbacks allowed: a held stack serves rather than a purchase.
      const fallback = await client({ order: [unknown] }).chat(asked());
      expect([dear.atoma.stack_id, mid.atoma.stack_id]).toContain(fallback.atoma.stack_id);
      expect(await balanceOf(account.address)).toBe(held);
      // Arguments are checked before anything is read or bought.
      expect(() => client({ order: [1 as unknown as bigint] })).toThrow(/preferences.order\[\]/);
      expect(() => client({ allowFallbacks: "no" as unknown as boolean })).toThrow(
        /preferences.allowFallbacks must be true or false/,
      );
    }, 180_000);

    it("puts aside a node that settles a stack it was bought for long before it expires, units left", async () => {
      // The chain bears the node out (the stack is closed), but each such stack costs its owner a purchase for one
      // answer: the node must not be bought from again. (After the price-cap test: this account then owns no stack.)
      const account = buyer(7);
      const cheapest = [...dev.ready.nodes].sort((a, b) => Number(a.price) - Number(b.price))[0]!;
      const liars = await startLiars(dev.ready.nodes);
      try {
        const client = createAtomaClient({
          network: dev.readyText,
          account,
          preferences: { sort: "price" },
          fetch: liars.fetch,
        });
        const first = await client.chat(ask(dev.ready.model, "Hello"));
        expect(first.atoma.node_id).toBe(cheapest.id);
        // The node settles the stack at once (one leaf of 100,000 units, the hour barely begun), then says so.
        const nodeKey = devNodeKey(dev, dev.ready.nodes.indexOf(cheapest));
        await settleAtOnce(dev.readyText, nodeKey, BigInt(first.atoma.stack_id as string));
        liars.lies.set(first.atoma.stack_id as string, "stack_closed");
        // The chain still offers the node: only the client's own memory keeps it from buying there again.
        const chain = readContext(parseNetwork(dev.readyText));
        const taskId = (await getStack(chain, BigInt(first.atoma.stack_id as string))).taskId;
        const offered = await offeredNodes(chain, {
          taskId,
          units: 100_000n,
          maxPricePerMillion: 10n ** 19n,
        });
        expect(offered.map((o) => String(o.nodeId))).toContain(cheapest.id);
        const next = await client.chat(ask(dev.ready.model, "Hello again"));
        expect(next.atoma.stack_id).not.toBe(first.atoma.stack_id);
        expect(next.atoma.node_id).not.toBe(cheapest.id);
      } finally {
        await liars.close();
      }
    }, 180_000);
  });

  // Review 13, round 4: the level was read task by task over every task ever created, which anyone may create.
  describe("a chain with many tasks for the model", () => {
    it("reads the level served in a bounded number of calls, whatever the tasks anyone creates", async () => {
      const network = parseNetwork(dev.readyText);
      const spammer = userContext(network, buyer(9));
      for (let k = 0; k < 120; k++)
        await createTask(spammer, {
          modelId: modelIdOf(dev.ready.model),
          role: TaskRole.Chat,
          securityLevel: SecurityLevel.None,
        });
      const rpc = await startRelay(dev.ready.rpcUrl);
      try {
        const chain = verifyChainOf({ ...network, rpcUrl: rpc.url });
        expect(await servingSecurityLevel(chain, dev.ready.model)).toBe(1);
        // A bound, not a count: the deployment block check (two getCode) and the re-read unconfirmed tail of the task
        // logs (review s5 F7, F9) each add a few calls; what matters is that it does not grow with the 120 tasks.
        expect(rpc.requests.length).toBeLessThan(30);
        const calls = rpc.requests.length;
        // What the level on offer read: every task, one by one.
        await highestLevelOnOffer(chain, dev.ready.model);
        expect(rpc.requests.length - calls).toBeGreaterThan(120);
      } finally {
        await rpc.close();
      }
    }, 180_000);
  });

  describe("arguments are checked before anything is signed, sent or bought", () => {
    const node = () => dev.ready.nodes[0]!;
    const options = (nodeUrl: string) => ({
      nodeUrl,
      account: buyer(6),
      stackId: 1n,
      chainId: dev.ready.chainId,
      stackManager: dev.ready.contracts.StackManager as Hex,
      nodeSigner: node().address,
    });

    it("refuses a stack id given as a number or a string, and a malformed address, with no request sent", async () => {
      const toNode = await startRelay(node().url);
      try {
        for (const stackId of [1, "1", 0n, -3n] as unknown[]) {
          const make = () => new StackClient({ ...options(toNode.url), stackId: stackId as bigint });
          expect(make).toThrow(ClientArgumentError);
          expect(make).toThrow(/stackId must be a positive bigint/);
        }
        expect(() => new StackClient({ ...options(toNode.url), nodeSigner: "0x1234" as Hex })).toThrow(
          /nodeSigner must be a 20-byte hex address/,
        );
        const client = new StackClient(options(toNode.url));
        const refused = await rejection(client.chat({ model: dev.ready.model }));
        expect(refused).toBeInstanceOf(ClientArgumentError);
        expect((refused as ClientArgumentError).code).toBe("invalid_argument");
        await rejection(client.chatStream({ messages: [{ role: "user", content: "no model" }] }));
        expect(toNode.requests).toEqual([]);
      } finally {
        await toNode.close();
      }
    });

    it("refuses a body without its messages before the gateway sees a request", async () => {
      const seen = relay.requests.length;
      const client = createAtomaClient({
        gateway: { url: relay.url, apiKey: dev.ready.apiKey },
        verify: false,
      });
      for (const body of [{ model: dev.ready.model }, { messages: [] }, "Hello", null] as unknown[]) {
        const error = await rejection(client.chat(body as Record<string, unknown>));
        expect(error).toBeInstanceOf(ClientArgumentError);
      }
      await rejection(client.embeddings({ model: dev.ready.model }));
      expect(relay.requests.length).toBe(seen);
    });

    it("refuses a bad chain, gatewayAddress or securityLevel before the gateway sees a request", async () => {
      const seen = relay.requests.length;
      const gateway = { url: relay.url, apiKey: dev.ready.apiKey };
      const contracts = parseNetwork(dev.readyText).contracts;
      const bad: unknown[] = [
        { gateway, chain: { publicClient: {}, addresses: {} } },
        { gateway, chain: 42 },
        { gateway, chain: { rpcUrl: "ftp://x", contracts } },
        { gateway, chain: { rpcUrl: dev.ready.rpcUrl, contracts: { ...contracts, StackManager: "0x12" } } },
        { gateway, chain: verifyChainOf(parseNetwork(dev.readyText)), gatewayAddress: "0x1234" },
        { gateway, chain: dev.readyText, securityLevel: 7 },
        { gateway, gatewayAddress: dev.ready.gatewayAddress },
        // A zero limit fails only after the answer is paid; a string turns the limit off.
        { gateway, chain: dev.readyText, streamLimits: { maxEventBytes: 0 } },
        { gateway, chain: dev.readyText, streamLimits: { maxTotalBytes: "1024" } },
        { gateway, chain: dev.readyText, streamLimits: 5 },
        { network: dev.readyText, account: buyer(5), streamLimits: { maxEventBytes: -1 } },
      ];
      for (const options of bad)
        expect(() => createAtomaClient(options as Parameters<typeof createAtomaClient>[0])).toThrow(
          ClientArgumentError,
        );
      expect(() => createAtomaClient({ gateway, chain: "{}" })).toThrow(NetworkDescriptionError);
      expect(relay.requests.length).toBe(seen);
    });

    it("refuses non-positive units, a bad account or network before buying anything", async () => {
      const account = buyer(5);
      const before = await balanceOf(account.address);
      expect(() => createAtomaClient({ network: dev.readyText, account, stack: { units: 0n } })).toThrow(
        /stack.units must be a positive bigint/,
      );
      expect(() =>
        createAtomaClient({ network: dev.readyText, account, stack: { units: 5 as unknown as bigint } }),
      ).toThrow(ClientArgumentError);
      expect(() => createAtomaClient({ network: "{}", account })).toThrow(NetworkDescriptionError);
      expect(() =>
        createAtomaClient({ network: dev.readyText, account: "0xkey" as unknown as typeof account }),
      ).toThrow(/account must be a viem LocalAccount/);
      expect(() => createAtomaClient({ gateway: { url: "ftp://x", apiKey: "k" }, verify: false })).toThrow(
        /gateway.url/,
      );
      expect(await balanceOf(account.address)).toBe(before);
    });
  });
});
