import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { ChainContext } from "@atoma/chain";
import { offeredNodes } from "@atoma/chain";
import { atomaDomain } from "@atoma/core";
import {
  type BuyTerms,
  boughtStack,
  checkedKeptReceipts,
  closedEarly,
  closeUnprovenReported,
  closeUnprovenStack,
  deploymentBlockError,
  falseSpentClaim,
  givenStack,
  NodeMisbehavedError,
  NodeRequestError,
  ReceiptWithheldError,
  RunningTotalError,
  reusableStack,
  STACK_SPENT,
  StackClient,
  StackUnusableError,
  UnitsMismatchError,
  type UsableStack,
  type Verified,
  verdictLine,
  verifyChainOf,
  verifyResponse,
  withholdingProven,
} from "@atoma/sdk";
import { type Command, Option } from "commander";
import { type LocalAccount, parseEther } from "viem";
import { bigintOption, tomaOption } from "../amountOptions.js";
import { loadNetwork, loadUserAccount, type Network, readContext, userContext } from "../chain/userChain.js";
import { asideFile, keepAside, loadAside } from "../chat/asideStore.js";
import { auditAdoptedOnRun } from "../chat/chatAudit.js";
import { confidentialChat } from "../chat/confidentialChat.js";
import { keepPending, loadForgotten, loadPending, pendingFile } from "../chat/pendingStore.js";
import {
  keepReceipt,
  lastServedAt,
  loadReceipts,
  loadRefused,
  receiptsDir,
  receiptsFile,
  stackHome,
} from "../chat/receiptStore.js";
import { takeStackLock } from "../chat/stackLock.js";
import { resendRefused, stackStalled } from "../chat/stalledStack.js";
import { CliUsageError } from "../errors.js";
import { integerOption } from "../options.js";

const UINT64_MAX = (1n << 64n) - 1n;
const MAX_PROMPT_CHARS = 16_384;
/** How long a node may take to see a stack just bought (its chain listener polls). */
const NEW_STACK_WAIT_MS = 30_000;

interface ChatFlags {
  network?: string;
  keyFile?: string;
  stack?: bigint;
  task?: bigint;
  model?: string;
  units: bigint;
  maxPrice: bigint;
  duration: bigint;
  maxTokens: number;
  receipts?: string;
  save?: string;
  json?: boolean;
  confidential?: boolean;
}

/** `atoma chat "prompt"`: one signed chat on a stack (given, reused or bought), streamed, receipt verified. */
export function registerChat(program: Command): void {
  program
    .command("chat <prompt>")
    .description(
      "ask a node directly as a stack's owner: streams the answer to stdout, the verified receipt to stderr",
    )
    .option(
      "--network <file>",
      "JSON with rpcUrl, chainId and contracts, or atoma dev's `ready` line (or ATOMA_NETWORK)",
    )
    .option("--key-file <file>", "the stack owner's hex private key, mode 0600 (or ATOMA_PRIVATE_KEY)")
    .option(
      "--stack <id>",
      "use this stack (default: reuse your newest active one on the task, or buy one)",
      bigintOption("--stack", 1n),
    )
    .option(
      "--task <id>",
      "task to buy on (default: the network file's tasks.chat)",
      bigintOption("--task", 1n),
    )
    .option("--model <id>", "model id (default: the network file's model)")
    .addOption(
      new Option("--units <n>", "compute units of a stack bought")
        .argParser(bigintOption("--units", 1n, UINT64_MAX))
        .default(10_000n, "10000"),
    )
    .addOption(
      new Option("--max-price <TOMA>", "highest TOMA per 1,000,000 units for a stack bought")
        .argParser(tomaOption("--max-price"))
        .default(parseEther("10"), "10"),
    )
    .addOption(
      new Option("--duration <seconds>", "lifetime of a stack bought")
        .argParser(bigintOption("--duration", 1n, UINT64_MAX))
        .default(3_600n, "3600"),
    )
    .option("--max-tokens <n>", "most tokens in the answer", integerOption("--max-tokens", 1, 4_096), 64)
    .option(
      "--receipts <dir>",
      "where every receipt the node signs is kept, the owner's evidence (or ATOMA_RECEIPTS; ~/.atoma/receipts)",
    )
    .option(
      "--save <file>",
      "write the answer as an OpenAI client receives it (with its atoma object), for atoma verify",
    )
    .option(
      "--json",
      "print one JSON object instead of the streamed text: the answer as an OpenAI client receives it, and the verdict",
    )
    .option(
      "--confidential",
      "security level 3: a node of the model's confidential task, attested (evidence for a fresh nonce, its on-chain record and allow-list) before the prompt is sealed to its key; prints the attestation's checks",
    )
    .action(async (prompt: string, flags: ChatFlags) => {
      if (prompt.trim() === "") throw new CliUsageError("the prompt is empty");
      if (prompt.length > MAX_PROMPT_CHARS)
        throw new CliUsageError(`the prompt is longer than ${MAX_PROMPT_CHARS} characters`);
      const network = loadNetwork(flags.network);
      const model = flags.model ?? network.model;
      if (model === undefined) throw new CliUsageError("give --model <id> (the network file names no model)");
      const account = loadUserAccount(flags.keyFile);
      if (flags.confidential) {
        if (flags.stack !== undefined || flags.task !== undefined || flags.receipts !== undefined)
          throw new CliUsageError(
            "--confidential picks its level-3 task and stack: leave out --stack, --task, --receipts",
          );
        const body = { model, messages: [{ role: "user", content: prompt }], max_tokens: flags.maxTokens };
        await confidentialChat(network, account, body, flags);
        return;
      }
      const ctx = userContext(network, account);
      const terms = () => ({
        taskId: taskOf(flags, network),
        units: flags.units,
        maxPricePerMillion: flags.maxPrice,
        duration: flags.duration,
      });
      const dir = receiptsDir(flags.receipts);
      const home = await stackHome(readContext(network).publicClient, network.contracts.StackManager);
      const aside = asideFile(dir, home);
      // Stacks with leaves adopted from another client of the owner are audited once settled, with no one asking.
      await auditAdoptedOnRun(ctx, dir, home, BigInt(network.deploymentBlock ?? 0));
      let stack =
        flags.stack !== undefined
          ? await givenStack(ctx, flags.stack).catch((error: unknown) => {
              if (!(error instanceof StackUnusableError)) throw error;
              throw new CliUsageError(`${error.shortMessage}; leave out --stack to buy one`);
            })
          : await reusedOrBought(ctx, terms(), aside, await checkedDeploymentBlock(ctx, network));
      const body = { model, messages: [{ role: "user", content: prompt }], max_tokens: flags.maxTokens };
      let answer: Verified;
      const first = await clientFor(network, account, stack, dir);
      try {
        answer = await ask(first, stack, body, flags.json === true);
      } catch (error) {
        if (error instanceof ReceiptWithheldError) {
          if (!withholdingProven(error)) {
            resendRefused(stack, error);
            throw error;
          }
          // A leaf the node committed and will not give the receipt of: nothing new can be signed on the stack. It is
          // closed, its node put aside, the signed request kept as evidence, and another node serves.
          await stackStalled(ctx, stack, error, aside, first.file);
          if (flags.stack !== undefined || stack.bought) throw error;
          stack = await boughtOffAside(ctx, terms(), aside);
          answer = await ask(await clientFor(network, account, stack, dir), stack, body, flags.json === true);
          return finish(answer);
        }
        if (!(error instanceof NodeRequestError && STACK_SPENT.has(error.code))) throw error;
        // A stack the node says is spent is replaced (once) only when the chain, or a receipt it signed, bears the
        // node out: else every run would buy another stack on the node's word. A node caught, or one that closed a
        // stack long before it expired, is put aside in the owner's state: no later run buys from it.
        let claimed: bigint | undefined;
        const lie = await falseSpentClaim(ctx, stack, first.client, body, error, (units) => {
          claimed = units;
        });
        if (lie !== undefined) {
          keepAside(aside, stack.nodeId, lie);
          // Never used again: closed now, so its escrow comes back once the node settles (review R4-4).
          const { settleDeadline } = await closeUnprovenReported(ctx, stack.stackId);
          const closed =
            settleDeadline === undefined
              ? ""
              : `; stack ${stack.stackId} closed, to be settled by ${settleDeadline}`;
          throw new NodeMisbehavedError(
            stack.nodeId,
            `${lie}${closed}; nothing was bought, and no later run buys from it`,
          );
        }
        // Its last use may be an earlier run's: when the last receipt kept for the stack arrived.
        const lastSentAt = first.client.lastSentAt ?? lastServedAt(first.file);
        if (await closedEarly(ctx, stack, first.client, body, network.idleSeconds, lastSentAt))
          keepAside(aside, stack.nodeId, `closed stack ${stack.stackId} long before it expired, units left`);
        // Exhausted by the node's word alone (no receipt of the stack at hand): closed now, so that its escrow comes
        // back once the node settles rather than at its expiry; the node's signed total is kept with the receipts.
        if (claimed !== undefined) {
          const deadline = await closeUnprovenStack(ctx, stack.stackId);
          process.stderr.write(
            `node ${stack.nodeId} says stack ${stack.stackId} is exhausted at ${claimed} units, unproven: ${deadline === undefined ? "it no longer serves" : `closed, to be settled by ${deadline}`}; its signed total is kept in ${first.file} for the index challenge\n`,
          );
        }
        if (flags.stack !== undefined || stack.bought) throw error;
        stack = await boughtOffAside(ctx, terms(), aside);
        answer = await ask(await clientFor(network, account, stack, dir), stack, body, flags.json === true);
      }
      await finish(answer);
      async function finish(answer: Verified): Promise<void> {
        const { fields } = answer;
        process.stderr.write(
          `receipt ${JSON.stringify({
            nodeId: stack.nodeId.toString(),
            stackId: stack.stackId.toString(),
            leafIndex: fields.leafIndex.toString(),
            nonce: fields.nonce.toString(),
            units: fields.units.toString(),
            cumulativeUnits: fields.cumulativeUnits.toString(),
            requestHash: fields.reqHash,
            responseHash: fields.respHash,
            bought: stack.bought,
          })}\n`,
        );
        // What the node signed covers the body as sent: the stream flag StackClient adds included.
        const received = { ...answer.response, atoma: answer.atoma };
        if (flags.save !== undefined)
          writeFileSync(resolve(flags.save), `${JSON.stringify(received, null, 2)}\n`);
        const verdict = await verifyResponse(received, {
          chain: verifyChainOf(network),
          request: { ...body, stream: true },
          stackId: stack.stackId,
          owner: account.address,
        });
        process.stderr.write(`verdict ${verdictLine(verdict)}\n`);
        if (flags.json) process.stdout.write(`${JSON.stringify({ answer: received, verdict })}\n`);
        if (!verdict.ok) process.exitCode = 1;
      }
    });
}

/**
 * The owner's newest active stack on the task (its purchases read from `fromBlock`, the network's deployment block)
 * unless its node is put aside, else one bought (`boughtOffAside`).
 */
async function reusedOrBought(
  ctx: ChainContext,
  terms: BuyTerms,
  aside: string,
  fromBlock: bigint,
): Promise<UsableStack> {
  const reused = await reusableStack(ctx, terms.taskId, fromBlock);
  const asideIds = new Set(loadAside(aside).map((n) => BigInt(n.nodeId)));
  return reused && !asideIds.has(reused.nodeId) ? reused : boughtOffAside(ctx, terms, aside);
}

/** A stack bought as drawn, or, once nodes are put aside, from one the chain offers that is not. */
async function boughtOffAside(ctx: ChainContext, terms: BuyTerms, aside: string): Promise<UsableStack> {
  const asideIds = new Set(loadAside(aside).map((n) => BigInt(n.nodeId)));
  if (asideIds.size === 0) return boughtStack(ctx, terms);
  const offered = (await offeredNodes(ctx, terms).catch(() => [])).filter((o) => !asideIds.has(o.nodeId));
  const pick = offered[Math.floor(Math.random() * offered.length)];
  if (pick === undefined)
    throw new CliUsageError(
      `every node the chain offers on task ${terms.taskId} is put aside (${[...asideIds].join(", ")}, kept in ${aside}); nothing was bought`,
    );
  return boughtStack(ctx, { ...terms, pick: { kind: "node", nodeId: pick.nodeId } });
}

function taskOf(flags: ChatFlags, network: Network): bigint {
  if (flags.task !== undefined) return flags.task;
  const fromFile = network.tasks?.chat;
  if (fromFile === undefined || !/^\d{1,78}$/.test(fromFile))
    throw new CliUsageError("give --task <id> (the network file names no tasks.chat)");
  return BigInt(fromFile);
}

/**
 * A client for `stack`: every receipt the node signs is kept in `receiptsDir`, and the running total continues from
 * those kept; every request signed is kept there too until its receipt comes, and resent unchanged by the next run
 * (a crash, or a node that committed it and cut the stream, never leaves a nonce signed for two bodies). A stack
 * just bought starts at leaf 0: the client never follows a nonce its node names.
 */
async function clientFor(
  network: Network,
  account: LocalAccount,
  stack: UsableStack,
  receiptsDir: string,
): Promise<{ client: StackClient; file: string }> {
  const home = await stackHome(readContext(network).publicClient, network.contracts.StackManager);
  const file = receiptsFile(receiptsDir, home, stack.stackId);
  // One run at a time signs on a stack (review F6): the lock is released when the run ends.
  takeStackLock(file, stack.stackId);
  // The receipts kept are checked again as read (a file anything may have changed): one that is not this stack's
  // node's is never the base of the running total or of the next nonce; it stays in the file, named here.
  const { receipts, rejected } = await checkedKeptReceipts(loadReceipts(file), {
    stackId: stack.stackId,
    domain: atomaDomain(network.chainId, network.contracts.StackManager),
    nodeSigner: stack.nodeSigner,
  });
  for (const r of rejected)
    process.stderr.write(
      `warning: stack ${stack.stackId}'s kept receipts in ${file} hold one that is not evidence (${r.reason}): not used; the file was changed by something other than atoma\n`,
    );
  const client = new StackClient({
    nodeUrl: stack.nodeUrl,
    account,
    stackId: stack.stackId,
    chainId: network.chainId,
    stackManager: network.contracts.StackManager,
    nodeSigner: stack.nodeSigner,
    nodeId: stack.nodeId,
    stackUnits: stack.units,
    receipts,
    refused: loadRefused(file),
    onReceipt: (receipt, verdict) => keepReceipt(file, receipt, verdict),
    pending: loadPending(pendingFile(file)),
    signedEarlier: loadForgotten(pendingFile(file)),
    // The hashes signed are kept with the pending requests: a request refused outright is forgotten here, and a
    // node that committed it anyway must not get it adopted by the next run (review MED-3).
    onPending: (pending) => keepPending(pendingFile(file), pending, client.signedHashes),
    ...(stack.bought && { firstNonce: 0n }),
  });
  return { client, file };
}

/**
 * Streams one signed chat to stdout; a stack bought a moment ago may still be unknown to its node: wait for it. A
 * receipt that does not add up is reported with the command that proves it.
 */
async function ask(
  { client, file }: { client: StackClient; file: string },
  stack: UsableStack,
  body: Record<string, unknown>,
  quiet: boolean,
): Promise<Verified> {
  const giveUpAt = Date.now() + NEW_STACK_WAIT_MS;
  for (;;) {
    try {
      const answer = await client.chatStream(body, (chunk) => {
        const text = deltaText(chunk);
        if (text && !quiet) process.stdout.write(text);
      });
      if (!quiet) process.stdout.write("\n");
      return answer;
    } catch (error) {
      if (error instanceof UnitsMismatchError || error instanceof RunningTotalError)
        process.stderr.write(
          `the node's receipt does not add up; it is kept in ${file}: prove it with atoma stack prove-fraud ${stack.stackId}\n`,
        );
      const unseen = error instanceof NodeRequestError && error.code === "unknown_stack";
      if (!(unseen && stack.bought && Date.now() < giveUpAt)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

function deltaText(chunk: Record<string, unknown>): string | undefined {
  const choices = chunk.choices as { delta?: { content?: unknown } }[] | undefined;
  const content = choices?.[0]?.delta?.content;
  return typeof content === "string" ? content : undefined;
}

/** The network file's deployment block, or 0 with a warning when it is not the TaskRegistry's (review F9). */
async function checkedDeploymentBlock(ctx: ChainContext, network: Network): Promise<bigint> {
  const block = BigInt(network.deploymentBlock ?? 0);
  const wrong = await deploymentBlockError(ctx.publicClient, network.contracts.TaskRegistry, block);
  if (wrong === undefined) return block;
  process.stderr.write(`warning: ${wrong.message}\n`);
  return 0n;
}
