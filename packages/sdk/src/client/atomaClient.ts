import type { AtomaReceipt } from "@atoma/core";
import type { LocalAccount } from "viem";
import type { AttestationVerdict } from "../confidential/attestationVerdict.js";
import type { ConfidentialOptions } from "../confidential/confidentialOptions.js";
import { ClientArgumentError } from "../errors.js";
import type { Network } from "../network.js";
import type { SseLimits } from "../readSse.js";
import type { LeafReadEscalation, StackClientOptions } from "../StackClient.js";
import type { StateStore } from "../state/stateStore.js";
import type { StackAuditReport, UnprovenEscalation } from "../verify/adoptedAuditRun.js";
import type { RejectedKeptReceipt } from "../verify/keptReceiptCheck.js";
import type { TaskLogStore } from "../verify/taskLogCache.js";
import type { Verdict } from "../verify/verdict.js";
import type { VerifyChain } from "../verify/verifyArguments.js";
import { checkAccount } from "./clientArguments.js";
import { directClient } from "./directClient.js";
import { gatewayClient } from "./gatewayClient.js";
import type { GatewayConfidentialChoice } from "./gatewaySealedClient.js";
import type { LowerLevelNotice, NodePreferences, StackPreferences } from "./nodeChoice.js";
import type { UnprovenExhaustion } from "./unprovenExhaustion.js";
import type { WithheldReceipt } from "./withheldReceipt.js";

type Body = Record<string, unknown>;

/** One answer: what an OpenAI client reads, its node's receipt, and what `verifyResponse` found. */
export interface AtomaAnswer {
  /** The answer as an OpenAI client reads it, `atoma` receipt included (what `atoma verify` takes). */
  response: Body;
  atoma: AtomaReceipt;
  /** The checks against the chain; none failed (else `AnswerUnverifiedError`). Undefined through a gateway without `chain`. */
  verdict: Verdict | undefined;
  /**
   * The request body as the node signed it (through a gateway: with what the gateway may add, `max_tokens`); for a
   * confidential request, the sealed envelope.
   */
  request: Body;
  /** A confidential answer as the node sent and signed it (sealed chunks, usage, `atoma`): what `atoma verify` takes. */
  sealed?: Body | undefined;
  /** A confidential answer: the checks of the node's attestation before the request was sealed to it. */
  attestation?: AttestationVerdict | undefined;
  /**
   * Reads the verdict again with the very checks the client ran (the request as sent, owner, stack, level; through
   * a gateway the replay check as first found): once the stack settles, inclusion and settlement state are read.
   * Undefined through a gateway without `chain`.
   */
  recheck: (() => Promise<Verdict>) | undefined;
}

/** The same four calls in both modes; each resolves once the answer's receipt is verified. */
export interface AtomaClient {
  chat(body: Body): Promise<AtomaAnswer>;
  /**
   * `onChunk` sees each chunk as it comes; the promise resolves with the chunks added up, once verified. `onRestart`
   * (confidential, direct mode): the chunks shown so far are void, a resend brought another answer, shown from its
   * start; without it, such a resend is refused (`SealedAnswerError` `answer_restarted`) rather than spliced.
   */
  chatStream(body: Body, onChunk?: (chunk: Body) => void, onRestart?: () => void): Promise<AtomaAnswer>;
  completions(body: Body): Promise<AtomaAnswer>;
  embeddings(body: Body): Promise<AtomaAnswer>;
}

/**
 * A network as a client may name it: a network file's contents or `atoma dev`'s ready line (text), a parsed
 * `Network`, or an RPC URL with the contract addresses (the chain id is then read from the RPC).
 */
export type NetworkInput =
  | string
  | Network
  | { rpcUrl: string; contracts: Network["contracts"]; chainId?: number };

export interface GatewayClientOptions {
  gateway: { url: string; apiKey: string };
  /**
   * The chain the receipts are checked against (`verifyChainOf(network)`, or any `NetworkInput`). Required unless
   * `verify: false`.
   */
  chain?: VerifyChain | NetworkInput | undefined;
  /**
   * `false` (and no `chain`): the gateway is trusted, answers are returned unchecked (`verdict` undefined). Without
   * `chain` and without this, `ClientArgumentError`: nothing is left unverified by accident.
   */
  verify?: false | undefined;
  /**
   * The gateway's wallet: every answer must come from a stack it owns on-chain (else it is another owner's answer,
   * replayed). Default: what the gateway says at `GET /v1/gateway` (`atoma dev`'s ready line: `gatewayAddress`).
   * Needs `chain`.
   */
  gatewayAddress?: string | undefined;
  /**
   * The lowest security level an answer's stack may have been bought at (0 none, 1, 2, 3). Needs `chain`. Default:
   * `servingSecurityLevel`, the highest level a node serves the model at now (room or not), read again each minute;
   * `SecurityLevelUnknownError` before anything is sent when it cannot be read. Anyone may create a task for a
   * model, and a gateway's own unverified one must not pass for the verified one.
   */
  securityLevel?: number | undefined;
  fetch?: typeof fetch | undefined;
  streamLimits?: SseLimits | undefined;
  /**
   * `true` (or options): every chat and completion is sealed to the node the gateway picked, after this client
   * checked its evidence and on-chain record (the chain's allow-list, as direct mode); the gateway never reads it.
   * Needs `chain` as a network (not a `VerifyChain`) and `@atoma/confidential` (Node.js); embeddings are refused.
   */
  confidential?: boolean | GatewayConfidentialChoice | undefined;
}

export interface DirectClientOptions {
  network: NetworkInput;
  /** The user's key: it buys stacks (TOMA and gas) and signs every request. */
  account: LocalAccount;
  /** How a node is picked for a model, as a gateway's `provider` object says it. */
  preferences?: NodePreferences | undefined;
  /** What a stack bought for a model holds. */
  stack?: StackPreferences | undefined;
  /**
   * Called when a node is put aside (it said a live stack was spent, closed one long before it expired, or withheld
   * a receipt): keep the id and pass it in `preferences.ignore` next time, so that no later run buys from it again;
   * `until` (a withheld receipt: `WITHHELD_ASIDE_MS`) says when it may serve again, absent for good.
   */
  onNodePutAside?: ((nodeId: bigint, reason: string, until?: Date) => void) | undefined;
  /**
   * Called when a node committed a leaf and refused the resend of its signed request, saying its nonce is used
   * (`withholdingProven`): the stack was closed at once (`settleDeadline`, or `closeError`), the node put aside for a
   * week, and the request went to another node. Keep `request`: the signed request is the owner's evidence that
   * the leaf was asked for within its signed bound.
   */
  onReceiptWithheld?: ((withheld: WithheldReceipt) => void) | undefined;
  /**
   * Called when receipts kept for a stack do not check out as the node's (the store was changed by something other
   * than the SDK): the client starts from the others, never from these; the store keeps them for the owner to see.
   */
  onKeptReceiptsRejected?: ((stackId: bigint, rejected: RejectedKeptReceipt[]) => void) | undefined;
  /**
   * Called when a node called a stack reused with none of its receipts at hand exhausted, with a running total
   * nothing here can check: the client closed the stack at once (`settleDeadline`, undefined when it no longer
   * served), so its escrow comes back once the node settles rather than at its expiry. Keep the claim, and once the
   * stack settles compare it with `exhaustionClaimSettled`.
   */
  onUnprovenExhaustion?: ((claim: UnprovenExhaustion) => void) | undefined;
  /**
   * Called with every receipt a node signs for this client, with the client's verdict (`StackClient`'s `onReceipt`):
   * a refused one, or one a node showed as a stack's last leaf and lied with (`shown`), is the owner's evidence.
   */
  onReceipt?: StackClientOptions["onReceipt"];
  /**
   * Called when the default level taken for a model (the highest a node could serve this client at: within
   * `preferences.maxPricePerMillion`, with capacity for `stack.units`) is below the highest a node serves it at on any
   * terms: raise the cap (or name `preferences.securityLevel`) to be served at that level.
   */
  onLowerLevel?: LowerLevelNotice | undefined;
  fetch?: typeof fetch | undefined;
  streamLimits?: SseLimits | undefined;
  /**
   * Where the model's task logs, once read, are kept (`TaskLogStore`: text by key), so that a client started again
   * reads only the blocks since; each entry is trusted only while its last block is still the chain's.
   * @default one store for this client's life
   */
  taskLogStore?: TaskLogStore | undefined;
  /**
   * Where the client keeps, per stack, what a restart must not lose (`StateStore`: text by key; `fileStateStore` of
   * `@atoma/sdk/node`, or a page's `localStorage`): every receipt (adopted ones, another client's leaf, included),
   * the requests pending, the hashes of every request signed (a leaf shown for one is never adopted as another
   * client's), failed leaf reads and the adopted-leaf audit's challenges. Each is written before it is relied on, and
   * read back when the client takes a stack up again. It also keeps the bytes of answer per second measured of each
   * node's answers per model (`NodeThroughput`, for `sort: "throughput"`), written in the background: a store that
   * fails or hangs on that write never holds an answer back. @default one store for this client's life
   */
  stateStore?: StateStore | undefined;
  /**
   * The adopted-leaf audit, run with no one calling it (`auditAdoptedStacks`): on every stack of the store holding an
   * adopted receipt, once its node settled it, each adopted leaf the settled root lacks is challenged, and each
   * challenge unanswered past its deadline resolved (the node slashed). It runs in the background when a call is
   * made (at most once per `everyMs`, default a minute) and, with `watchMs`, on a timer until `signal` aborts. `false`
   * turns it off.
   */
  adoptedAudit?:
    | false
    | {
        everyMs?: number | undefined;
        watchMs?: number | undefined;
        signal?: AbortSignal | undefined;
        /** When adopted leaves the node keeps refusing to prove are reported (`persistentlyUnproven`). */
        unprovenEscalation?: UnprovenEscalation | undefined;
      }
    | undefined;
  /** Told what each adopted-leaf audit did (stacks with nothing settled yet included), or why it failed. */
  onAdoptedAudit?: ((reports: StackAuditReport[], error?: unknown) => void) | undefined;
  /** When failed leaf reads escalate (`LeafUnreadableError`: the stack closed, its node put aside a while). */
  leafReadEscalation?: LeafReadEscalation | undefined;
  /**
   * `true` (or options): every request goes to a node of a level-3 task, sealed to the key its attestation vouches
   * for after the checks (`AttestationRefusedError` otherwise, the node put aside; `AttestationUnavailableError`
   * when it could not answer for now, the node skipped for a cooldown only), and the answer is opened here.
   * Needs `@atoma/confidential` (Node.js). Dev evidence is accepted only under a dev root given here, or the network
   * description's (`atoma dev`'s) on a local dev chain (31337) or with `allowDev: true`.
   */
  confidential?: boolean | ConfidentialOptions | undefined;
}

export type AtomaClientOptions = GatewayClientOptions | DirectClientOptions;

/**
 * A client for the network in one of two modes with one interface. Through a gateway (`{ gateway: { url, apiKey },
 * chain }`): the gateway holds the stacks; each answer's receipt is checked with `verifyResponse` against the chain,
 * and must come from a stack of the gateway's own wallet (`gatewayAddress`) on a task of the model asked.
 * Non-custodial (`{ network, account }`): the client picks a node for the model on-chain, buys (or reuses) a stack,
 * signs each request itself and sends it to the node's registered URL. Arguments are checked first
 * (`ClientArgumentError`); an answer that fails a check throws `AnswerUnverifiedError` with its verdict.
 */
export function createAtomaClient(options: AtomaClientOptions): AtomaClient {
  if (typeof options !== "object" || options === null)
    throw new ClientArgumentError("createAtomaClient takes { gateway, chain } or { network, account }");
  if ("gateway" in options && options.gateway !== undefined) return gatewayClient(options);
  if ("network" in options && options.network !== undefined) {
    checkAccount(options.account);
    return directClient(options);
  }
  throw new ClientArgumentError(
    "createAtomaClient needs { gateway: { url, apiKey }, chain } or { network, account }",
  );
}
