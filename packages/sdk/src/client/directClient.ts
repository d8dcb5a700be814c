import type { ChainContext } from "@atoma/chain/portable";
import { atomaDomain } from "@atoma/core";
import { AttestationCooldown } from "../confidential/attestationCooldown.js";
import {
  AttestationRefusedError,
  AttestationUnavailableError,
  type AttestationVerdict,
} from "../confidential/attestationVerdict.js";
import { confidentialOptionsOf, networkDevRoot } from "../confidential/confidentialOptions.js";
import {
  type Attested,
  ConfidentialSender,
  type SealedVerified,
} from "../confidential/confidentialSender.js";
import {
  AnswerUnverifiedError,
  ClientArgumentError,
  NodeMisbehavedError,
  NodeRequestError,
  NoNodeOfferedError,
  ReceiptWithheldError,
  ResponseVerificationError,
} from "../errors.js";
import { type Network, parseNetwork, userContext } from "../network.js";
import { requestUnitBound } from "../requestUnitBound.js";
import { StackClient, type Verified } from "../StackClient.js";
import type { UsableStack } from "../stackChoice.js";
import { genesisHash } from "../state/genesisHash.js";
import { KeptStacks } from "../state/keptStacks.js";
import { NodeThroughput, type ThroughputMeasure } from "../state/nodeThroughput.js";
import { memoryStateStore } from "../state/stateStore.js";
import { checkedKeptReceipts } from "../verify/keptReceiptCheck.js";
import { memoryTaskLogStore } from "../verify/taskLogCache.js";
import { verifyChainOf } from "../verify/verifyChain.js";
import { verifyResponse } from "../verify/verifyResponse.js";
import { adoptedAuditor } from "./adoptedAuditor.js";
import { answerBytesPerSecond } from "./answerThroughput.js";
import type { AtomaAnswer, AtomaClient, DirectClientOptions } from "./atomaClient.js";
import { BatchedWrites } from "./batchedWrites.js";
import { checkBody, checkStreamLimits, type Endpoint } from "./clientArguments.js";
import { networkOf } from "./networkInput.js";
import { NewStackSends } from "./newStackSend.js";
import { type CandidateVetting, checkPreferences, DEFAULT_STACK_UNITS, stackForModel } from "./nodeChoice.js";
import { withTokenLimit } from "./requestMarks.js";
import { type RestartGuard, restartGuard } from "./restartGuard.js";
import { closedEarly, falseSpentClaim, STACK_SPENT } from "./spentClaim.js";
import { closeUnprovenReported } from "./unprovenExhaustion.js";
import { closeStalledStack, withholdingProven } from "./withheldReceipt.js";

type Body = Record<string, unknown>;

interface Serving {
  stack: UsableStack;
  client: StackClient;
  /** A confidential client's attestation of the node: requests to it are sealed to its key. */
  attested?: Attested | undefined;
}

/** `elapsedMs`: from sending the request (its first try, `NewStackSends`) to the answer's end. */
type Sent = Verified & { sealed?: SealedVerified | undefined; elapsedMs?: number | undefined };

/** Measurements of answers waiting while a write to the store is under way (`BatchedWrites`): past this, the oldest go. */
const MEASURES_WAITING = 256;

/**
 * Non-custodial: the user's key buys (or reuses) a stack for each model from a node picked on-chain, and signs
 * every request to that node's registered URL; every receipt is checked by `StackClient` as it arrives, then the
 * answer by `verifyResponse` against the chain (the signer registered for the node serving the stack, the owner).
 * A node that says a stack is spent is believed only when the chain bears it out (then one stack is bought and the
 * request sent once more); else it is put aside for good, and another node serves (`NodeMisbehavedError` if none).
 * A node that committed a leaf and then, asked again for it, says its nonce is used without giving the receipt
 * (`ReceiptWithheldError`, `withholdingProven`) has stalled the stack: it is closed, the node put aside for
 * `WITHHELD_ASIDE_MS`, the signed request handed to `onReceiptWithheld` as evidence, and the request goes to another
 * node. Any other refused resend proves nothing: the call fails, the node is kept and the stack left open.
 */
export function directClient(options: DirectClientOptions): AtomaClient {
  checkPreferences(options.preferences, options.stack);
  checkStreamLimits(options.streamLimits);
  // A network given as text is checked now, so that a bad one fails here rather than at the first call.
  if (typeof options.network === "string") parseNetwork(options.network, "the network");
  const fetcher = options.fetch ?? globalThis.fetch;
  const confidential = confidentialOptionsOf(options.confidential);
  if (confidential && (options.preferences?.securityLevel ?? 3) !== 3)
    throw new ClientArgumentError(
      "a confidential client uses level-3 tasks: leave preferences.securityLevel out",
    );
  const stateStore = options.stateStore ?? memoryStateStore();
  let context:
    | Promise<{
        network: Network;
        ctx: ChainContext;
        kept: KeptStacks;
        throughput: NodeThroughput;
        sender?: ConfidentialSender;
      }>
    | undefined;
  const contextOnce = () => {
    if (context) return context;
    const made = networkOf(options.network).then(async (network) => {
      const ctx = userContext(network, options.account);
      const place = {
        chainId: network.chainId,
        genesis: await genesisHash(ctx),
        stackManager: network.contracts.StackManager,
        owner: options.account.address,
      };
      return {
        network,
        ctx,
        kept: new KeptStacks(stateStore, place),
        throughput: new NodeThroughput(stateStore, place),
        // Seals to attested nodes only; dev evidence only under the dev root given, or the network description's on a
        // dev chain or with `allowDev`.
        ...(confidential && {
          sender: new ConfidentialSender(confidential, {
            devRoot: networkDevRoot(network, confidential.allowDev),
            fetch: fetcher,
            streamLimits: options.streamLimits,
          }),
        }),
      };
    });
    // A failed read (the RPC busy, say) is tried again at the next call, never kept as the client's context for good.
    context = made;
    made.catch(() => {
      if (context === made) context = undefined;
    });
    return made;
  };
  const serving = new Map<string, Promise<Serving>>();
  /** The task logs read, kept so that a later choice reads only the blocks since (the caller's store, if given). */
  const taskLogs = options.taskLogStore ?? memoryTaskLogStore();
  /**
   * Nodes caught saying what the chain contradicts, or closing a stack of this client long before it expired with
   * units left: no stack of theirs is used or bought again.
   */
  const asideUntil = new Map<bigint, number>();
  const putAside = (nodeId: bigint, reason: string, until?: Date) => {
    asideUntil.set(nodeId, until === undefined ? Number.POSITIVE_INFINITY : +until);
    options.onNodePutAside?.(nodeId, reason, until);
  };
  /** The nodes aside now (one put aside for a while is back once its time is over). */
  const asideNow = () => [...asideUntil].filter(([, until]) => until > Date.now()).map(([nodeId]) => nodeId);
  /** Stacks found stalled by a withheld receipt: closed and reported once, whatever calls were waiting on them. */
  const stalled = new Set<bigint>();
  /** Nodes whose attestation could not be had for now: skipped a while (with backoff), never put aside for it. */
  const cooldown = new AttestationCooldown({
    firstMs: confidential?.attestationRetryMs,
    maxMs: confidential?.maxAttestationRetryMs,
  });
  /**
   * A node's attestation failed: a transient failure skips it for its cooldown (the error carries when it is asked
   * again), a refusal (its evidence failed a check) puts it aside for good.
   */
  const attestationFailed = (nodeId: bigint, error: unknown): unknown => {
    if (error instanceof AttestationUnavailableError) {
      const retryAt = cooldown.cool(error.verdict);
      return new AttestationUnavailableError(error.verdict, error.refused, retryAt);
    }
    if (error instanceof AttestationRefusedError)
      putAside(nodeId, `its attestation is refused: ${error.shortMessage}`);
    return error;
  };
  /** Stacks believed spent: never reused (one still active on-chain would be picked again, and refused again). */
  const spent = new Set<bigint>();

  const servingFor = (model: string): Promise<Serving> => {
    let found = serving.get(model);
    if (!found) {
      found = (async () => {
        const { network, ctx, kept, throughput, sender } = await contextOnce();
        const preferences = { ...options.preferences, ...(sender && { securityLevel: 3 }) };
        const waiting = sender ? cooldown.waiting() : [];
        const aside = asideNow();
        const ignore = [...(preferences.ignore ?? []), ...aside, ...waiting.map((w) => w.nodeId)];
        // Confidential: each candidate is attested before a stack is bought from it; one refused is put aside
        // unpaid, and when none passes nothing is bought.
        const refused: AttestationVerdict[] = [];
        let vetted: Attested | undefined;
        const vetting: CandidateVetting | undefined = sender && {
          accepts: async (candidate) => {
            if (asideNow().includes(candidate.nodeId)) return false;
            try {
              vetted = await sender.attestNode(ctx, candidate);
              cooldown.forget(candidate.nodeId);
              return true;
            } catch (error) {
              if (!(error instanceof AttestationRefusedError)) throw error;
              refused.push(error.verdict);
              attestationFailed(candidate.nodeId, error);
              return false;
            }
          },
          noneAccepted: () => {
            // Only nodes that could not answer for now: the client asks again once the first one's wait is over.
            if (refused.every((v) => v.transient)) {
              const retryAt = cooldown.waiting().sort((a, b) => +a.retryAt - +b.retryAt)[0]?.retryAt;
              return new AttestationUnavailableError(refused[0]!, refused, retryAt);
            }
            return new AttestationRefusedError(refused[0]!, refused);
          },
        };
        const stack = await stackForModel(
          ctx,
          model,
          ignore.length === 0 ? preferences : { ...preferences, ignore },
          options.stack ?? {},
          fetcher,
          spent,
          vetting,
          options.onLowerLevel,
          BigInt(network.deploymentBlock ?? 0),
          taskLogs,
          (model) => throughput.figures(model),
        ).catch((error: unknown) => {
          // No node left but some only waiting out a transient failure: say so, and when one is asked again.
          const first = waiting.sort((a, b) => +a.retryAt - +b.retryAt)[0];
          if (!(error instanceof NoNodeOfferedError) || !first) throw error;
          throw new AttestationUnavailableError(
            first.verdict,
            waiting.map((w) => w.verdict),
            first.retryAt,
          );
        });
        // What an earlier run (or another client of the owner on this store) kept of the stack: its receipts, pending
        // requests and signed hashes, so that a restart neither loses an adopted receipt nor adopts its own leaf.
        const loaded = await kept.load(stack.stackId);
        // Checked again as read (the store is text anything may have changed): a receipt that is not this stack's
        // node's is never the base of the running total or of the next nonce.
        const checked = await checkedKeptReceipts(
          loaded.receipts.map((r) => r.receipt),
          {
            stackId: stack.stackId,
            domain: atomaDomain(network.chainId, network.contracts.StackManager),
            nodeSigner: stack.nodeSigner,
          },
        );
        if (checked.rejected.length > 0) options.onKeptReceiptsRejected?.(stack.stackId, checked.rejected);
        const good = new Set(checked.receipts);
        const state = { ...loaded, receipts: loaded.receipts.filter((r) => good.has(r.receipt)) };
        let client: StackClient | undefined;
        client = new StackClient({
          nodeUrl: stack.nodeUrl,
          account: options.account,
          stackId: stack.stackId,
          chainId: network.chainId,
          stackManager: network.contracts.StackManager,
          nodeSigner: stack.nodeSigner,
          nodeId: stack.nodeId,
          stackUnits: stack.units,
          // A stack bought here starts at leaf 0: the client then never follows a nonce the node names (a node
          // naming one ahead would bill leaves never signed).
          ...(stack.bought ? { firstNonce: 0n } : {}),
          streamLimits: options.streamLimits,
          fetch: fetcher,
          ...kept.clientOptions(stack.stackId, state, () => client, options.onReceipt),
          leafReadEscalation: options.leafReadEscalation,
        });
        // A stack just bought was bought from the node attested for it; a reused one's node is attested again. A
        // node whose attestation fails a check is put aside: nothing is sealed to it, another serves next.
        const attested =
          stack.bought && vetted?.verdict.nodeId === stack.nodeId
            ? vetted
            : await sender?.attest(ctx, stack).then(
                (passed) => {
                  cooldown.forget(stack.nodeId);
                  return passed;
                },
                (error: unknown) => {
                  throw attestationFailed(stack.nodeId, error);
                },
              );
        return { stack, client, attested };
      })();
      serving.set(model, found);
      // A failed choice is not kept: the next call tries again (unless another call already replaced it).
      const made = found;
      made.catch(() => {
        if (serving.get(model) === made) serving.delete(model);
      });
    }
    return found;
  };

  const auditor = adoptedAuditor(
    async () => {
      const { ctx, network, kept } = await contextOnce();
      return { ctx, kept, fromBlock: BigInt(network.deploymentBlock ?? 0) };
    },
    options,
    fetcher,
  );

  async function call(body: Body, send: (serving: Serving) => Promise<Sent>, guard: RestartGuard) {
    const model = body.model as string;
    auditor.touched();
    let verified: Sent;
    const chosen = servingFor(model);
    let current = await chosen;
    try {
      verified = await newStackSends.send(current.stack, () => send(current));
    } catch (error) {
      if (error instanceof ReceiptWithheldError && withholdingProven(error)) {
        guard.beforeAnother(error);
        current = await servingAfterStall(model, chosen, current, error);
        verified = await newStackSends.send(current.stack, () => send(current));
        return answered(current, verified, body);
      }
      if (!(error instanceof NodeRequestError) || !STACK_SPENT.has(error.code)) throw error;
      // The request goes again, on another stack: what was shown of this answer is dropped first (or the call fails).
      guard.beforeAnother(error);
      const { ctx, network } = await contextOnce();
      let claimed: bigint | undefined;
      const lie = await falseSpentClaim(ctx, current.stack, current.client, body, error, (units) => {
        claimed = units;
      });
      // Calls in parallel on one stack all hear it spent: only the first replaces it, the rest take its successor.
      if (serving.get(model) === chosen) serving.delete(model);
      if (lie === undefined) {
        const first = !spent.has(current.stack.stackId);
        spent.add(current.stack.stackId);
        // Exhausted by the node's word alone: closed now, so its escrow comes back once it settles, not at expiry.
        if (claimed !== undefined && first) {
          const { stackId, nodeId } = current.stack;
          // A close that fails (RPC error, no gas) leaves the stack for its expiry: another stack still serves.
          const closed = await closeUnprovenReported(ctx, stackId);
          options.onUnprovenExhaustion?.({ stackId, nodeId, claimed, ...closed });
        }
        if (await closedEarly(ctx, current.stack, current.client, body, network.idleSeconds))
          putAside(
            current.stack.nodeId,
            `closed stack ${current.stack.stackId} long before it expired, units left`,
          );
        current = await servingFor(model);
      } else {
        putAside(current.stack.nodeId, lie);
        // Not used again: closed now, so its escrow comes back once the node settles, not at expiry (review R4-4).
        if (!spent.has(current.stack.stackId)) {
          spent.add(current.stack.stackId);
          await closeUnprovenReported(ctx, current.stack.stackId);
        }
        current = await servingFor(model).catch((cause: unknown) => {
          throw cause instanceof NoNodeOfferedError
            ? new NodeMisbehavedError(current.stack.nodeId, `${lie}; no other node serves ${model}`)
            : cause;
        });
      }
      verified = await newStackSends.send(current.stack, () => send(current));
    }
    return answered(current, verified, body);
  }

  /**
   * The stack `current` stalled on a withheld receipt: closed (once, whatever calls waited on it), its node put
   * aside for a while, the signed request reported as evidence; the serving of `model` after it, on another node.
   */
  async function servingAfterStall(
    model: string,
    chosen: Promise<Serving>,
    current: Serving,
    error: ReceiptWithheldError,
  ): Promise<Serving> {
    const { stackId, nodeId } = current.stack;
    if (!stalled.has(stackId)) {
      stalled.add(stackId);
      spent.add(stackId);
      const { ctx } = await contextOnce();
      const withheld = await closeStalledStack(ctx, current.stack, error);
      putAside(nodeId, withheld.reason, withheld.asideUntil);
      options.onReceiptWithheld?.(withheld);
    }
    if (serving.get(model) === chosen) serving.delete(model);
    return servingFor(model).catch((cause: unknown) => {
      throw cause instanceof NoNodeOfferedError
        ? new NodeMisbehavedError(
            nodeId,
            `it withholds a receipt on stack ${stackId}; no other node serves ${model}`,
          )
        : cause;
    });
  }

  const newStackSends = new NewStackSends();
  const measures = new BatchedWrites<ThroughputMeasure>(MEASURES_WAITING, async (batch) => {
    const { throughput } = await contextOnce();
    await throughput.recordAll(batch);
  });
  /**
   * A verified answer's bytes per second into the node's figure on `model` (`sort: "throughput"`). Only a measure,
   * in the background, written with those that arrive while the store is busy in one update: a store that fails to keep it, or is slow to (another process holding its lock), neither
   * fails nor delays an answer already paid for and verified.
   */
  function measureThroughput(nodeId: bigint, body: Body, verified: Sent): void {
    if (verified.elapsedMs === undefined) return;
    // `body`: the request as signed in the clear (a sealed one's envelope hides it), read for its n and max_tokens.
    const bytesPerSecond = answerBytesPerSecond(
      verified.sealed?.opened ?? verified.response,
      body,
      verified.elapsedMs,
    );
    if (bytesPerSecond === undefined) return;
    measures.add({ nodeId, model: body.model as string, bytesPerSecond });
  }

  async function answered(current: Serving, verified: Sent, body: Body): Promise<AtomaAnswer> {
    const { stack } = current;
    const { network } = await contextOnce();
    const response = { ...verified.response, atoma: verified.atoma };
    const verifyOptions = {
      chain: verifyChainOf(network, taskLogs),
      request: verified.request,
      stackId: stack.stackId,
      owner: options.account.address,
      ...(verified.sealed && { securityLevel: 3 }),
      fetch: fetcher,
    };
    const verdict = await verifyResponse(response, verifyOptions);
    if (!verdict.ok) throw new AnswerUnverifiedError(verdict);
    measureThroughput(stack.nodeId, body, verified);
    const recheck = () => verifyResponse(response, verifyOptions);
    if (!verified.sealed)
      return {
        response,
        atoma: verified.atoma,
        verdict,
        request: verified.request,
        recheck,
      } satisfies AtomaAnswer;
    return {
      response: verified.sealed.opened,
      atoma: verified.atoma,
      verdict,
      request: verified.request,
      recheck,
      sealed: response,
      attestation: verified.sealed.attestation,
    } satisfies AtomaAnswer;
  }

  /** In clear, or sealed to the serving node's attested key (failover re-attests and re-seals for the next node). */
  const sent =
    (
      path: string,
      body: Body,
      clear: (client: StackClient) => Promise<Verified>,
      onChunk?: (c: Body) => void,
      onRestart?: () => void,
    ) =>
    async (current: Serving): Promise<Sent> => {
      if (!current.attested) return clear(current.client);
      const { ctx, sender } = await contextOnce();
      const { stack, client, attested } = current;
      const sealed = await sender!
        .send(ctx, stack, client, attested, path, body, onChunk, onRestart)
        .catch((error) => {
          // Checked again (its verdict was old, or it could not open a request) and refused: put aside (or, when it
          // could not answer, skipped a while), and the next call picks another node.
          if (error instanceof AttestationRefusedError) {
            serving.delete(body.model as string);
            throw attestationFailed(stack.nodeId, error);
          }
          throw error;
        });
      current.attested = sealed.attested;
      return { ...sealed.verified, sealed };
    };

  /**
   * A node whose receipt this client refused as fraud (units or a running total it signed that the answer or the
   * owner's signed bounds contradict, or a usage changed outside the TD) is put aside: the receipt is kept as
   * evidence, and no stack of that node is used again.
   */
  const fraudAside =
    (model: string, send: (serving: Serving) => Promise<Sent>) =>
    (current: Serving): Promise<Sent> =>
      send(current).catch((error: unknown) => {
        if (error instanceof ResponseVerificationError && "receipt" in error) {
          putAside(current.stack.nodeId, `its receipt is refused: ${error.message}`);
          serving.delete(model);
        }
        throw error;
      });

  const run = (
    endpoint: Endpoint,
    body: unknown,
    sealedAs: {
      path: string;
      stream?: boolean;
      onChunk?: ((chunk: Body) => void) | undefined;
      onRestart?: (() => void) | undefined;
    },
    send: (
      client: StackClient,
      body: Body,
      onChunk: ((chunk: Body) => void) | undefined,
    ) => Promise<Verified>,
  ) => {
    try {
      const checked = withTokenLimit(endpoint, checkBody(endpoint, body));
      checkFitsAStack(checked, options.stack?.units ?? DEFAULT_STACK_UNITS);
      const plain = sealedAs.stream === undefined ? checked : { ...checked, stream: sealedAs.stream };
      // One answer shown per call: a failover or a request sealed again after chunks were shown restarts it.
      const guard = restartGuard(sealedAs.onChunk, sealedAs.onRestart);
      return call(
        checked,
        fraudAside(
          checked.model as string,
          sent(
            sealedAs.path,
            plain,
            (client) => send(client, checked, guard.onChunk),
            guard.onChunk,
            guard.onRestart,
          ),
        ),
        guard,
      );
    } catch (error) {
      return Promise.reject(error);
    }
  };
  const CHAT = "/v1/chat/completions";
  return {
    chat: (body) => run("chat", body, { path: CHAT, stream: false }, (client, b) => client.chat(b)),
    chatStream: (body, onChunk, onRestart) =>
      run("chat", body, { path: CHAT, stream: true, onChunk, onRestart }, (client, b, show) =>
        client.chatStream(b, show),
      ),
    completions: (body) =>
      run("completions", body, { path: "/v1/completions", stream: false }, (client, b) =>
        client.completions(b),
      ),
    embeddings: (body) =>
      run("embeddings", body, { path: "/v1/embeddings" }, (client, b) => client.embeddings(b)),
  };
}

/**
 * A request whose signed bound exceeds the stack this client buys could never be served by one: a node would call
 * every fresh stack spent, and each call would buy another. Refused before anything is bought or sent.
 */
function checkFitsAStack(body: Body, stackUnits: bigint): void {
  // As signed: `StackClient` adds the stream flag (`false`, the longer, is taken) to a chat or completion.
  const bound = requestUnitBound(body.input === undefined ? { ...body, stream: false } : body);
  if (bound > stackUnits)
    throw new ClientArgumentError(
      `the request can use up to ${bound} units, more than a ${stackUnits}-unit stack holds: lower max_tokens or the prompt, or buy larger stacks (stack.units)`,
    );
}
