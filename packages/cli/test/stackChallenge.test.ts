import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  atomaContracts,
  buyStack,
  type ChainContext,
  ChallengeStatus,
  closeStack,
  createAtomaWalletClient,
  getChallenge,
  payHeldBonds,
  setNodeUrl,
  submitSettlement,
} from "@atoma/chain";
import {
  type LeafProof,
  leafHash,
  leafOf,
  type SignedResponseFields,
  StackTree,
  signResponse,
} from "@atoma/core";
import { type Hex, keccak256, parseEther, stringToBytes } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PRICE,
  SecurityLevel,
  type ServedStack,
  serveStack,
  startNetwork,
  type TestNetwork,
  type TestNode,
  taskWith,
} from "../../chain/test/network.js";
import type { AtomaNode } from "../../node/src/service/createNode.js";
import {
  recordStack,
  serveRequests,
  settlementNode,
  waitFor,
} from "../../node/test/helpers/settlementNetwork.js";
import { auditFile, receiptsAuditBook } from "../src/chat/auditStore.js";
import { keepReceipt, receiptsFile, stackHome } from "../src/chat/receiptStore.js";
import { expectRefused, runCliToEnd } from "./cliProcess.js";
import { writeKeyFiles } from "./keyFiles.js";

const HOUR = 3_600;
/** The deployment's answer window (5 minutes) and settlement challenge window (10 minutes). */
const ANSWER_WINDOW = 300;
const CHALLENGE_WINDOW = 600;
const PHASE_ACCEPTED = 4;
const PHASE_FAILED = 6;

/**
 * `atoma stack challenge-index` and `atoma stack resolve-challenge` on anvil with the whole system deployed: an
 * honest node (its real settlement worker) answers, a node that padded its stack past the owner's last request is
 * slashed through the commands, and every bad input is refused with one line and a non-zero exit.
 */
describe("atoma stack challenge-index / resolve-challenge", () => {
  const dir = mkdtempSync(join(tmpdir(), "atoma-cli-challenge-"));
  const networkFile = join(dir, "network.json");
  const receipts = join(dir, "receipts");
  let network: TestNetwork;
  let honest: TestNode;
  let padder: TestNode;
  /** A node that signed two owner requests' receipts at one leaf (review H1 of the leaf adoption). */
  let colluder: TestNode;
  /** Another such node, whose stack `atoma chat` audits on its own. */
  let colluderToo: TestNode;
  let colludeTaskToo: bigint;
  let honestTask: bigint;
  let padTask: bigint;
  let colludeTask: bigint;
  let honestNode: AtomaNode | undefined;
  /** The honest node's operator and its TOMA before its answer: the bond is held until the window is over. */
  let heldFor: { operator: Hex; before: bigint } | undefined;
  let honestDataDir: string | undefined;
  const owner = { key: generatePrivateKey(), file: join(dir, "owner.key") };
  const stranger = { key: generatePrivateKey(), file: join(dir, "stranger.key") };
  const ownerAccount = privateKeyToAccount(owner.key);
  let ownerCtx: ChainContext;
  /** The honest node's stack, settled with 3 leaves, whose leaf 2 the owner challenges. */
  let honestStack: bigint;

  const contracts = () => network.deployment.contracts;
  const tomaOf = (address: Hex) => contracts().token.read.balanceOf([address]);
  const collateralOf = async (node: TestNode) =>
    (await contracts().nodeRegistry.read.getNode([node.nodeId])).collateral;
  const phaseOf = async (stackId: bigint) =>
    (await contracts().settlementManager.read.getSettlement([stackId])).phase;
  const challenge = (stackId: bigint, ...more: string[]) => [
    ...["stack", "challenge-index", String(stackId), "--network", networkFile],
    ...["--key-file", owner.file, ...more],
  ];
  const resolve = (challengeId: bigint | string, keyFile = owner.file) => [
    ...["stack", "resolve-challenge", String(challengeId), "--network", networkFile],
    ...["--key-file", keyFile],
  ];

  /** A stack of 1,000 units the owner buys on `taskId`. */
  const buy = (taskId: bigint) =>
    buyStack(ownerCtx, { taskId, units: 1_000n, maxPricePerMillion: PRICE, duration: 86_400n });
  /** The file where `atoma chat` keeps the owner's receipts of `stackId` (in `receipts`). */
  const keptReceipts = async (stackId: bigint) =>
    receiptsFile(
      receipts,
      await stackHome(network.admin.publicClient, network.deployment.addresses.StackManager),
      stackId,
    );
  /** The node's proof of leaf 1 of the two it served on `stackId`, under the root it settled. */
  const proofOfLeafOne = (stackId: bigint, served: ServedStack): LeafProof => {
    const a = served.responses[1]!.fields;
    return {
      object: "stack.leaf_proof",
      stack_id: String(stackId),
      leaf_index: "1",
      leaf: {
        nonce: "1",
        request_hash: a.reqHash,
        response_hash: a.respHash,
        units: String(a.units),
        cumulative_units: String(a.cumulativeUnits),
      },
      leaf_hash: leafHash(leafOf(a)),
      leaf_count: "2",
      root: served.tree.root,
      proof: served.tree.proof(1),
      settlement: { chain_id: 31337, settlement_manager: null, tx_hash: `0x${"ee".repeat(32)}` },
    };
  };
  /** A real HTTP server that answers as `answer` says (status, JSON body), registered as `node`'s URL. */
  async function proofServer(node: TestNode, answer: (url: string | undefined) => [number, unknown]) {
    const server = createServer((req, res) => {
      const [status, body] = answer(req.url);
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await setNodeUrl(node.operator, { nodeId: node.nodeId, url });
    return server;
  }

  beforeAll(async () => {
    network = await startNetwork();
    honest = await network.addNode();
    padder = await network.addNode();
    colluder = await network.addNode();
    colluderToo = await network.addNode();
    honestTask = await taskWith(network, [honest], { securityLevel: SecurityLevel.None });
    padTask = await taskWith(network, [padder], { securityLevel: SecurityLevel.None });
    colludeTask = await taskWith(network, [colluder], { securityLevel: SecurityLevel.None });
    colludeTaskToo = await taskWith(network, [colluderToo], { securityLevel: SecurityLevel.None });
    await writeKeyFiles(network, [owner, stranger], networkFile);
    const chain = { rpcUrl: network.anvil.rpcUrl, chainId: network.anvil.chainId };
    ownerCtx = {
      publicClient: network.admin.publicClient,
      walletClient: createAtomaWalletClient(chain, ownerAccount),
      addresses: network.deployment.addresses,
    };
    await network.advance(HOUR);
  }, 180_000);

  afterAll(async () => {
    await honestNode?.stop();
    if (honestDataDir) rmSync(honestDataDir, { recursive: true, force: true });
    await network?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("an honest node answers: the owner's bond goes to its operator, and the index cannot be challenged again", async () => {
    const units = 1_000n;
    const stack = await buy(honestTask);
    honestStack = stack.stackId;
    const started = settlementNode(network, honest);
    honestNode = started.node;
    honestDataDir = started.dataDir;
    await honestNode.start();
    await recordStack(honestNode, stack, { owner: ownerAccount, taskId: honestTask, units });
    await serveRequests(network, honestNode, stack, ownerAccount, 3);

    // Served but not settled yet: there is nothing to challenge.
    await expectRefused(challenge(honestStack, "--index", "0"), /stack \d+ is not settled yet/);
    await closeStack(ownerCtx, { stackId: honestStack });
    await waitFor("the settlement", async () => (await phaseOf(honestStack)) === PHASE_ACCEPTED);

    // Independent refusals (each only reads the chain), run side by side.
    const refusals: [string[], RegExp][] = [
      [challenge(honestStack, "--index", "3"), /stack \d+ settled 3 leaves \(0 to 2\): there is no leaf 3/],
      [challenge(honestStack, "--index", "two"), /--index must be a whole number from 0 to/],
      [challenge(honestStack, "--index", "-1"), /--index must be a whole number from 0 to/],
      [challenge(honestStack, "--receipts", receipts), /no receipts of stack \d+ are kept in .*give --index/],
      [
        [...challenge(honestStack, "--index", "0").slice(0, -2), "--key-file", stranger.file],
        /stack \d+ belongs to 0x[0-9a-fA-F]{40}, not to this key .*only its owner may challenge it/,
      ],
      [challenge(999n, "--index", "0"), /there is no stack 999/],
      [["stack", "challenge-index", String(honestStack)], /give --network <file>/],
      [resolve(999n), /there is no challenge 999/],
      [resolve("x"), /challenge id must be a whole number/],
    ];
    await Promise.all(refusals.map(([args, message]) => expectRefused(args, message)));

    const operator = honest.operator.walletClient.account.address;
    const [ownerBefore, operatorBefore, collateral] = await Promise.all([
      tomaOf(ownerAccount.address),
      tomaOf(operator),
      collateralOf(honest),
    ]);
    const opened = await runCliToEnd(challenge(honestStack, "--index", "2"));
    expect(opened.code, opened.stderr).toBe(0);
    const result = JSON.parse(opened.stdout) as Record<string, string>;
    expect(result).toMatchObject({
      stackId: String(honestStack),
      leafIndex: "2",
      nodeId: String(honest.nodeId),
      bond: "1",
    });
    expect(result.tx).toMatch(/^0x[0-9a-f]{64}$/);
    expect(new Date(result.answerDeadlineAt!).getTime() / 1000).toBe(Number(result.answerDeadline));
    expect(opened.stderr).toMatch(
      new RegExp(`atoma stack resolve-challenge ${result.challengeId} --network ${networkFile}`),
    );
    expect(ownerBefore - (await tomaOf(ownerAccount.address))).toBe(parseEther("1"));
    const challengeId = BigInt(result.challengeId!);

    // The node's settlement worker answers with the owner-signed request it kept, and earns the bond.
    await waitFor(
      "the node's answer",
      async () => (await getChallenge(ownerCtx, challengeId)).status === ChallengeStatus.Dismissed,
    );
    // Held until the settlement's window is over (review challenges LOW-1: more challenges may still open).
    expect((await tomaOf(operator)) - operatorBefore).toBe(0n);
    expect(await collateralOf(honest)).toBe(collateral);
    expect(await phaseOf(honestStack)).toBe(PHASE_ACCEPTED);
    await expectRefused(
      resolve(challengeId),
      new RegExp(`challenge ${challengeId} was answered by node ${honest.nodeId}: dismissed`),
    );
    // The contract refuses the same index again, named by its custom error.
    await expectRefused(
      challenge(honestStack, "--index", "2"),
      new RegExp(`challengeIndex reverted with IndexAlreadyProven\\(${honestStack}, 2\\)`),
    );
    heldFor = { operator, before: operatorBefore };
  }, 180_000);

  it("a node that padded its stack past the owner's last request is slashed through resolve-challenge", async () => {
    const stack = await buy(padTask);
    // Two requests the owner signed (and kept receipts of), then leaf 2: one it never sent, billed at the rest.
    const served = await serveStack(network, stack.stackId, ownerAccount, padder, 2, "honest", 200n);
    const file = await keptReceipts(stack.stackId);
    served.responses.forEach((response, k) => {
      keepReceipt(file, { ...response, result: served.outputs[k]! });
    });
    const padded = {
      leafIndex: 2n,
      nonce: 2n,
      reqHash: keccak256(stringToBytes("never signed")),
      respHash: keccak256(stringToBytes("junk")),
      units: 800n,
      cumulativeUnits: 1_000n,
    };
    const tree = new StackTree([...served.leaves, padded].map(leafHash));
    await submitSettlement(padder.signer, {
      stackId: stack.stackId,
      root: tree.root,
      units: 1_000n,
      requestCount: 3n,
      transcriptId: `0x${"ab".repeat(32)}`,
    });
    expect(await phaseOf(stack.stackId)).toBe(PHASE_ACCEPTED);

    // An owner without the bond is told so before anything is sent.
    const strangerAddress = privateKeyToAccount(stranger.key).address;
    const all = await tomaOf(ownerAccount.address);
    const ownerToken = atomaContracts(ownerCtx.addresses, ownerCtx.publicClient, ownerCtx.walletClient).token;
    await ownerCtx.publicClient.waitForTransactionReceipt({
      hash: await ownerToken.write.transfer([strangerAddress, all]),
    });
    await expectRefused(
      challenge(stack.stackId, "--index", "2"),
      /the challenge bond is 1 TOMA and 0x[0-9a-fA-F]{40} holds 0 \(cli_usage\)$/m,
    );
    const strangerToken = atomaContracts(
      ownerCtx.addresses,
      ownerCtx.publicClient,
      createAtomaWalletClient(
        { rpcUrl: network.anvil.rpcUrl, chainId: network.anvil.chainId },
        privateKeyToAccount(stranger.key),
      ),
    ).token;
    await ownerCtx.publicClient.waitForTransactionReceipt({
      hash: await strangerToken.write.transfer([ownerAccount.address, all]),
    });

    const ownerBefore = await tomaOf(ownerAccount.address);
    // Without --index: the leaf after the owner's last kept receipt.
    const opened = await runCliToEnd(challenge(stack.stackId, "--receipts", receipts));
    expect(opened.code, opened.stderr).toBe(0);
    const result = JSON.parse(opened.stdout) as Record<string, string>;
    expect(result).toMatchObject({ leafIndex: "2", nodeId: String(padder.nodeId), bond: "1" });
    const challengeId = BigInt(result.challengeId!);
    // Several challenges may be open at once (review fresh HIGH-1), each index only once.
    await expectRefused(challenge(stack.stackId, "--index", "2"), /IndexAlreadyProven/);
    await expectRefused(
      resolve(challengeId),
      new RegExp(`challenge ${challengeId} is open until .*node ${padder.nodeId} may still answer`),
    );

    // The node cannot show the owner's signature on a request it made up; the deadline passes.
    await network.advance(ANSWER_WINDOW + 1);
    const collateral = await collateralOf(padder);
    // Anyone may resolve it: here a stranger.
    const resolved = await runCliToEnd(resolve(challengeId, stranger.file));
    expect(resolved.code, resolved.stderr).toBe(0);
    expect(JSON.parse(resolved.stdout)).toMatchObject({
      challengeId: String(challengeId),
      stackId: String(stack.stackId),
      nodeId: String(padder.nodeId),
      upheld: true,
      bondReturned: "1",
      owner: ownerAccount.address,
    });
    const { slashed, ownerShare } = JSON.parse(resolved.stdout) as Record<string, string>;
    expect(parseEther(slashed!)).toBe(collateral);
    expect(parseEther(ownerShare!)).toBeGreaterThan(0n);
    expect(await collateralOf(padder)).toBe(0n);
    expect(await tomaOf(ownerAccount.address)).toBe(ownerBefore);
    expect(await phaseOf(stack.stackId)).toBe(PHASE_FAILED);
    await expectRefused(
      resolve(challengeId),
      new RegExp(`challenge ${challengeId} is already upheld: node ${padder.nodeId} was slashed`),
    );
  }, 180_000);

  it("refuses a challenge once the settlement's challenge window has ended", async () => {
    await honestNode?.stop();
    honestNode = undefined;
    await network.advance(CHALLENGE_WINDOW + 1);
    await expectRefused(
      challenge(honestStack, "--index", "0"),
      /stack \d+'s challenge window ended at \d{4}-\d\d-\d\dT/,
    );
    // The window and the fraud window after it (the exit notice, review R2-5) over, anyone may pay out the bond
    // held for the honest node's answer.
    await expect(payHeldBonds(ownerCtx, { stackId: honestStack })).rejects.toMatchObject({
      errorName: "BondsStillHeld",
    });
    await network.advance(Number(await contracts().taskRegistry.read.exitNotice()) + 1);
    const { paid } = await payHeldBonds(ownerCtx, { stackId: honestStack });
    expect(paid?.amount).toBe(parseEther("1"));
    expect((await tomaOf(heldFor!.operator)) - heldFor!.before).toBe(parseEther("1"));
  });

  it("audit-adopted: a node that showed one client another's leaf and settled the other is slashed", async () => {
    const stack = await buy(colludeTask);
    // Client A of the owner was answered at leaf 0; at leaf 1 the node signed receipts for two requests of the
    // owner (A's and B's), answered neither, showed each client the other's (A adopted B's) and settles A's.
    const served = await serveStack(network, stack.stackId, ownerAccount, colluder, 2, "honest", 200n);
    const file = await keptReceipts(stack.stackId);
    keepReceipt(file, { ...served.responses[0]!, result: served.outputs[0]! });
    const twin: SignedResponseFields = {
      ...served.responses[1]!.fields,
      reqHash: keccak256(stringToBytes("client B's request at leaf 1")),
      respHash: keccak256(stringToBytes("an answer nobody got")),
    };
    const twinSignature = await signResponse(colluder.signerAccount, network.domain, twin);
    await submitSettlement(colluder.signer, {
      stackId: stack.stackId,
      root: served.tree.root,
      units: 200n,
      requestCount: 2n,
      transcriptId: `0x${"cd".repeat(32)}`,
    });
    // The node's proof server: it refuses proofs (503) while `refusing`, then shows leaf 1 (A's) under its root.
    const proofOfA = proofOfLeafOne(stack.stackId, served);
    let refusing = true;
    const proofs = await proofServer(colluder, (url) =>
      !refusing && url === `/v1/stacks/${stack.stackId}/proof/1`
        ? [200, proofOfA]
        : [503, { error: { code: "busy", type: "server_error", message: "busy" } }],
    );
    const audit = [
      ...["stack", "audit-adopted", String(stack.stackId), "--network", networkFile],
      ...["--key-file", owner.file, "--receipts", receipts],
    ];
    // Nothing adopted: nothing to audit, no bond taken.
    const before = await tomaOf(ownerAccount.address);
    const none = await runCliToEnd(audit);
    expect(none.code, none.stderr).toBe(0);
    expect(JSON.parse(none.stdout)).toMatchObject({ adopted: 0, challenges: [] });
    await expectRefused(
      [...audit.slice(0, -4), "--key-file", stranger.file],
      /stack \d+ belongs to 0x[0-9a-fA-F]{40}, not to this key .*only its owner may challenge it/,
    );

    keepReceipt(file, { fields: twin, signature: twinSignature, result: "0x", adopted: true });
    // A node that refuses the proof could answer a challenge with it and keep the bond (review MED-2): the leaf is
    // reported unproven, and no bond is taken.
    const baited = await runCliToEnd(audit);
    expect(baited.code, baited.stderr).toBe(0);
    expect(JSON.parse(baited.stdout)).toMatchObject({
      adopted: 1,
      challenges: [],
      unproven: [{ leafIndex: "1" }],
    });
    expect(baited.stderr).toMatch(/no valid proof of adopted leaf 1 .*no bond taken/);
    expect(await tomaOf(ownerAccount.address)).toBe(before);
    // The node's own proof puts A's leaf at index 1 under the settled root: B's is definitively not settled.
    refusing = false;
    // Another process of the owner (`atoma chat`'s own audit) holds the claim of B's leaf: this run sends no second
    // challenge, no second bond (before, the command ignored the claims and both sent one).
    const book = receiptsAuditBook(
      receipts,
      await stackHome(network.admin.publicClient, network.deployment.addresses.StackManager),
    );
    const leafOfB = leafHash(leafOf(twin)).toLowerCase();
    expect(await book.claimChallenges!(stack.stackId, [leafOfB])).toEqual([leafOfB]);
    const claimedElsewhere = await runCliToEnd(audit);
    expect(claimedElsewhere.code, claimedElsewhere.stderr).toBe(0);
    expect(JSON.parse(claimedElsewhere.stdout)).toMatchObject({ adopted: 1, challenges: [] });
    expect(await tomaOf(ownerAccount.address)).toBe(before);
    await book.releaseClaim!(stack.stackId, leafOfB);
    const opened = await runCliToEnd(audit);
    expect(opened.code, opened.stderr).toBe(0);
    const result = JSON.parse(opened.stdout) as { adopted: number; challenges: Record<string, string>[] };
    expect(result.adopted).toBe(1);
    expect(result.challenges).toHaveLength(1);
    expect(result.challenges[0]).toMatchObject({ leafIndex: "1", upheld: false });
    const challengeId = BigInt(result.challenges[0]!.challengeId!);
    expect(opened.stderr).toMatch(new RegExp(`atoma stack resolve-challenge ${challengeId} --network`));
    expect(before - (await tomaOf(ownerAccount.address))).toBe(parseEther("1"));
    const challenged = await getChallenge(ownerCtx, challengeId);
    expect(challenged.leaf).toBe(leafHash(leafOf(twin)));
    // Run again while the challenge is open: the leaf already challenged takes no second bond.
    const again = await runCliToEnd(audit);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ adopted: 1, challenges: [] });
    expect(before - (await tomaOf(ownerAccount.address))).toBe(parseEther("1"));

    // The settled root holds A's leaf at 1, not B's: no proof exists for the node to answer with.
    await network.advance(ANSWER_WINDOW + 1);
    const collateral = await collateralOf(colluder);
    const resolved = await runCliToEnd(resolve(challengeId));
    expect(resolved.code, resolved.stderr).toBe(0);
    const outcome = JSON.parse(resolved.stdout) as Record<string, string>;
    expect(outcome).toMatchObject({ upheld: true, nodeId: String(colluder.nodeId), bondReturned: "1" });
    expect(parseEther(outcome.slashed!)).toBe(collateral);
    expect(parseEther(outcome.ownerShare!)).toBeGreaterThan(0n);
    expect(await collateralOf(colluder)).toBe(0n);
    expect(await tomaOf(ownerAccount.address)).toBe(before);
    expect(await phaseOf(stack.stackId)).toBe(PHASE_FAILED);
    proofs.close();
  }, 180_000);
  it("atoma chat audits adopted leaves on its own: a receipt that is not the node's is reported and left out, and the node is slashed", async () => {
    const stack = await buy(colludeTaskToo);
    const served = await serveStack(network, stack.stackId, ownerAccount, colluderToo, 2, "honest", 200n);
    const file = await keptReceipts(stack.stackId);
    keepReceipt(file, { ...served.responses[0]!, result: served.outputs[0]! });
    // As before: the node showed `atoma chat` client B's leaf 1 (adopted) and settles client A's.
    const twin: SignedResponseFields = {
      ...served.responses[1]!.fields,
      reqHash: keccak256(stringToBytes("client B's request at leaf 1, again")),
      respHash: keccak256(stringToBytes("another answer nobody got")),
    };
    const twinSignature = await signResponse(colluderToo.signerAccount, network.domain, twin);
    keepReceipt(file, { fields: twin, signature: twinSignature, result: "0x", adopted: true });
    // A second adopted leaf whose signature is not the node's (a damaged file, say): its challenge would revert, so
    // it is now reported and left out before any is sent (review of issue 13, LOW-1), and leaf 1 is still raised.
    const bogus: SignedResponseFields = { ...twin, leafIndex: 5n, nonce: 5n };
    const bogusSignature = await signResponse(ownerAccount, network.domain, bogus);
    keepReceipt(file, { fields: bogus, signature: bogusSignature, result: "0x", adopted: true });
    await submitSettlement(colluderToo.signer, {
      stackId: stack.stackId,
      root: served.tree.root,
      units: 200n,
      requestCount: 2n,
      transcriptId: `0x${"ce".repeat(32)}`,
    });
    const proofOfA = proofOfLeafOne(stack.stackId, served);
    const proofs = await proofServer(colluderToo, (url) =>
      url === `/v1/stacks/${stack.stackId}/proof/1`
        ? [200, proofOfA]
        : [404, { error: { code: "not_found", type: "x", message: "none" } }],
    );
    try {
      // The owner asks anything: before its chat (on a stack that no longer serves, so the chat itself fails), the
      // run audits the stack, challenges leaf 1, and reports leaf 5 as no evidence instead of challenging it.
      const chat = [
        ...["chat", "hello", "--network", networkFile, "--key-file", owner.file],
        ...["--receipts", receipts, "--model", "m", "--stack", String(stack.stackId)],
      ];
      const first = await runCliToEnd(chat);
      expect(first.stderr).toMatch(
        new RegExp(
          `audit: stack ${stack.stackId}'s settlement challenged with adopted leaf 1 \\(challenge (\\d+)`,
        ),
      );
      expect(first.stderr).toMatch(
        new RegExp(
          `warning: stack ${stack.stackId}'s kept files hold an adopted receipt that is not evidence`,
        ),
      );
      const challengeId = BigInt(/challenged with adopted leaf 1 \(challenge (\d+)/.exec(first.stderr)![1]!);
      expect((await getChallenge(ownerCtx, challengeId)).leaf).toBe(leafHash(leafOf(twin)));
      const kept = readFileSync(auditFile(file), "utf8");
      expect(kept).toContain(`"challengeId":"${challengeId}n"`);

      // The node cannot prove leaf 1 under its root: the next run after its answer window resolves the challenge.
      await network.advance(ANSWER_WINDOW + 1);
      const collateral = await collateralOf(colluderToo);
      expect(collateral).toBeGreaterThan(0n);
      const second = await runCliToEnd(chat);
      expect(second.stderr).toMatch(
        new RegExp(
          `audit: stack ${stack.stackId}'s challenge ${challengeId} upheld: the node slashed ${collateral} wei`,
        ),
      );
      expect(await collateralOf(colluderToo)).toBe(0n);
      expect(await phaseOf(stack.stackId)).toBe(PHASE_FAILED);
      expect(readFileSync(auditFile(file), "utf8")).toContain('"resolved":true');
    } finally {
      proofs.close();
    }
  }, 180_000);
});
