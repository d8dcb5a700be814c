import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type ChainContext,
  closeStack,
  createAtomaWalletClient,
  devAccounts,
  execute,
  getAttestation,
  getModel,
  getNode,
  modelIdOf,
  NodeStatus,
  proveReceiptFraud,
  readStack,
  reportWeightsMismatch,
  setAllowedMeasurement,
  setDevAttestation,
  setGpuRequired,
} from "@atoma/chain";
import { modelRegistryAbi, taskRegistryAbi } from "@atoma/contracts";
import { atomaDomain, type SignedResponseFields, signResponse } from "@atoma/core";
import { loadKeyFile } from "@atoma/node";
import { parseNetwork, readContext, userContext } from "@atoma/sdk";
import type { Browser, Page } from "playwright-core";
import { type Hex, isAddressEqual } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerFileNames, verifyCommand } from "../../../apps/explorer/src/playground/verifyCommand.js";
import { launchChromium } from "../../../testing/chromium.js";
import { startRelay } from "../../sdk/test/relay.js";
import { DEV_GATEWAY_PRIVATE_KEY } from "../src/dev/startDevGateway.js";
import { runCliToEnd } from "./cliProcess.js";

/** The model's round of weights-mismatch reports (governance re-enabling it starts the next). */
const reportRound = (reader: ReturnType<typeof readContext>, modelId: Hex) =>
  reader.publicClient.readContract({
    address: reader.addresses.ModelRegistry,
    abi: modelRegistryAbi,
    functionName: "reportRound",
    args: [modelId],
  });

/** Whether the node has already reported the model in that round. */
const hasReported = (reader: ReturnType<typeof readContext>, modelId: Hex, round: bigint, nodeId: bigint) =>
  reader.publicClient.readContract({
    address: reader.addresses.ModelRegistry,
    abi: modelRegistryAbi,
    functionName: "hasReported",
    args: [modelId, round, nodeId],
  });

/** The dev deployment's governor: anvil's first account, which anvil signs for. */
async function governorOf(ready: DevReady): Promise<ChainContext> {
  const chain = { rpcUrl: ready.rpcUrl, chainId: ready.chainId };
  const [deployer] = await devAccounts(chain);
  return {
    ...readContext(parseNetwork(JSON.stringify(ready))),
    walletClient: createAtomaWalletClient(chain, { address: deployer!, type: "json-rpc" }),
  };
}

/** The `atoma` command of the clone `atoma dev` runs from, which the page's command names (a path with no quoting). */
const ATOMA_BIN = fileURLToPath(new URL("../bin/atoma.js", import.meta.url));

export interface DevReady {
  rpcUrl: string;
  chainId: number;
  contracts: Record<string, Hex>;
  model: string;
  modelRoot: Hex;
  nodes: { id: string; url: string; address: Hex; price: string }[];
  tasks: { confidential: string };
  user: { privateKey: Hex };
  proxyUrl: string;
  apiKey: string;
  explorerUrl: string;
}

interface Marked {
  loadedOnce?: boolean;
  location: { hash: string };
}

/** Moves within the page (a hash route), never reloading it. */
const goTo = (tab: Page, hash: string) =>
  tab.evaluate((to) => {
    (globalThis as unknown as Marked).location.hash = to;
  }, hash);

/**
 * Runs a command as the page shows it, through `sh -c` in `cwd` (where its files were saved, outside the clone): the
 * shell splits and unquotes it as a person's would, and runs the `atoma` it names, with nothing put in front of it.
 */
function runShown(
  command: string,
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn("sh", ["-c", command], {
    cwd,
    env: { ...process.env, ATOMA_RECEIPTS: join(cwd, ".receipts") },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

/** Clicks a turn's download link and saves the file under the name the browser suggests. */
async function download(tab: Page, turn: ReturnType<Page["locator"]>, name: string, folder: string) {
  const [file] = await Promise.all([
    tab.waitForEvent("download"),
    turn.locator(`[data-testid="download-${name}"]`).click(),
  ]);
  await file.saveAs(join(folder, file.suggestedFilename()));
  return file.suggestedFilename();
}

const text = (tab: Page, selector: string) => tab.locator(selector).first().textContent({ timeout: 1_000 });

/**
 * The explorer in the machine's Chromium against a running `atoma dev` (its state in `stateDir`, where each node's
 * key lies): the nodes, a chat in the playground with its verdict, then a node caught cheating, its slash showing
 * on the open page without a reload. The tests run in order on one tab.
 */
export function explorerInBrowser(devNetwork: () => { ready: DevReady; stateDir: string }): void {
  describe("the explorer in Chromium", () => {
    let browser: Browser;
    let tab: Page;
    let stackId: string;
    /** Where the playground's first answer was saved, and the `atoma verify` arguments its page showed. */
    const saved = mkdtempSync(join(tmpdir(), "atoma-saved-answer-"));
    /** The command the page showed beside the first answer, run in `saved`. */
    let shownCommand: string;
    let files: { answer: string; request: string };

    beforeAll(async () => {
      browser = await launchChromium();
      tab = await browser.newPage();
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
      rmSync(saved, { recursive: true, force: true });
    });

    it("is served at the ready line's explorerUrl and shows every node with its stake, price, models and health", async () => {
      const { ready } = devNetwork();
      expect(ready.explorerUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      await tab.goto(ready.explorerUrl);
      // Marks this page load: the last test checks the slash arrived without another.
      await tab.evaluate(() => {
        (globalThis as unknown as Marked).loadedOnce = true;
      });
      for (const node of ready.nodes) {
        const row = `[data-testid="node-${node.id}"]`;
        await expect
          .poll(() => text(tab, `${row} [data-testid="node-health"]`), { timeout: 20_000 })
          .toBe("ok");
        expect(await text(tab, `${row} [data-testid="node-status"]`)).toBe("active");
        expect(await text(tab, row)).toContain(`${node.price}`);
        expect(await text(tab, row)).toContain(ready.model);
        expect(await text(tab, row)).toMatch(/\d+ ms/);
        // Its AttestationRegistry record as the chain holds it: the dev nodes' kind labelled insecure.
        const record = await getAttestation(
          readContext(parseNetwork(JSON.stringify(ready))),
          BigInt(node.id),
        );
        if (!record) throw new Error(`node ${node.id} holds no attestation record`);
        await expect
          .poll(() => text(tab, `${row} [data-testid="attestation-label"]`), { timeout: 20_000 })
          .toBe("insecure, development");
        const title = (testid: string) =>
          tab.locator(`${row} [data-testid="${testid}"]`).first().getAttribute("title", { timeout: 1_000 });
        expect(await title("attestation-measurement")).toBe(record.measurement);
        expect(await title("attestation-key")).toBe(record.encryptionKey);
        expect(await title("attestation-expiry")).toBe(String(record.expiresAt));
        expect(await text(tab, `${row} [data-testid="attestation-expiry"]`)).toMatch(
          /^until \d{4}-\d\d-\d\dT/,
        );
        // And the confidential task atoma dev made takes it: the registry's standing for the node on it.
        await expect
          .poll(() => text(tab, `${row} [data-testid="standing-${ready.tasks.confidential}"]`), {
            timeout: 20_000,
          })
          .toBe(`task ${ready.tasks.confidential}: ok`);
      }
      expect(Number(await text(tab, '[data-testid="total-staked"]'))).toBeGreaterThan(0);
    }, 60_000);

    it("chats through the gateway in the playground, the answer streamed and its verdict beside it", async () => {
      await goTo(tab, "#/playground");
      await tab.locator('textarea[name="question"]').fill("Hello from the explorer");
      await tab.locator('button[type="submit"]').click();
      await expect
        .poll(() => tab.locator('[data-testid="verdict-line"], [data-testid="turn-error"]').count(), {
          timeout: 60_000,
        })
        .toBeGreaterThan(0);
      expect(await tab.locator('[data-testid="turn-error"]').count()).toBe(0);
      expect((await text(tab, '[data-testid="answer"]'))?.length).toBeGreaterThan(0);
      expect(await text(tab, '[data-testid="verdict-line"]')).toMatch(/^verified; settlement unsettled/);
      // Through the gateway client: its wallet, the model's task and the highest level on offer, no replay.
      const checks = ["receipt", "response_hash", "request_hash", "signature", "signer", "stack"];
      for (const check of [...checks, "owner", "task", "security_level", "replay"])
        expect(await text(tab, `[data-testid="check-${check}"]`)).toContain(`${check}: pass`);
      expect(await text(tab, '[data-testid="check-inclusion"]')).toContain("inclusion: pending");
      const link = await text(tab, '[data-testid="verdict"] a');
      stackId = /stack #(\d+)/.exec(link ?? "")?.[1] ?? "";
      expect(stackId).toMatch(/^\d+$/);
    }, 90_000);

    // Review 13 (MEDIUM-1): a new user asks in the playground and checks the answer with atoma verify, nothing else to read.
    it("saves the answer as atoma verify takes it, beside the command that checks it: it passes, and fails edited", async () => {
      const { ready, stateDir } = devNetwork();
      const turn = tab.locator('[data-testid="turn"]').first();
      const command = (await turn.locator('[data-testid="verify-command"]').textContent()) ?? "";
      // Named per chain (its id and genesis hash: a fresh atoma dev's stack ids restart at 1), stack and leaf;
      // against the network file atoma dev wrote (as it says on stderr, quoted: its path has a space); and holding
      // the answer to what the page did: the gateway's wallet, the level it asked.
      const genesis = await readContext(parseNetwork(JSON.stringify(ready))).publicClient.getBlock({
        blockNumber: 0n,
      });
      const chain = `${ready.chainId}-${genesis.hash.slice(2, 10)}`;
      const receipt = new RegExp(`^node \\S+ verify answer-${chain}-(\\d+)-(\\d+)\\.json `).exec(command);
      expect(receipt?.[1]).toBe(stackId);
      files = answerFileNames(
        { stack_id: receipt![1]!, leaf_index: receipt![2]! },
        { chainId: ready.chainId, genesisHash: genesis.hash },
      );
      expect(files.answer).toBe(`answer-${chain}-${stackId}-${receipt![2]}.json`);
      const owner = /--owner (0x[0-9a-fA-F]{40})/.exec(command)?.[1] ?? "";
      expect(isAddressEqual(owner as Hex, privateKeyToAccount(DEV_GATEWAY_PRIVATE_KEY).address)).toBe(true);
      expect(command).toBe(
        `node ${ATOMA_BIN} verify ${files.answer} --request ${files.request} --network '${join(stateDir, "network.json")}' --owner ${owner} --security-level ${/--security-level (\d)$/.exec(command)?.[1]}`,
      );
      for (const name of ["answer", "request"] as const)
        expect(await download(tab, turn, name, saved)).toBe(files[name]);
      // Copied instead: the same text as the file.
      await tab
        .context()
        .grantPermissions(["clipboard-read", "clipboard-write"], { origin: ready.explorerUrl });
      await turn.getByRole("button", { name: "copy the answer" }).click();
      await expect.poll(() => text(tab, '[data-testid="answer-files"] .hint')).toBe(`${files.answer} copied`);
      expect(
        await tab.evaluate(() =>
          (
            globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }
          ).navigator.clipboard.readText(),
        ),
      ).toBe(readFileSync(join(saved, files.answer), "utf8"));
      // The command as the page shows it, through a shell, in the folder the files were saved to.
      shownCommand = command;
      const checked = await runShown(command, saved);
      expect(checked.stderr).toBe("");
      expect(checked.code).toBe(0);
      for (const check of [
        "receipt",
        "response_hash",
        "request_hash",
        "signature",
        "signer",
        "stack",
        "owner",
        "task",
        "security_level",
      ])
        expect(checked.stdout).toMatch(new RegExp(`^pass ${check} `, "m"));
      expect(checked.stdout).toMatch(/^wait inclusion /m);
      expect(checked.stdout).toMatch(/^verdict verified; settlement unsettled/m);

      // A description from elsewhere (no network file named): the page's command names the RPC URL and StackManager.
      const fromRpc = verifyCommand(
        parseNetwork(JSON.stringify(ready)),
        undefined,
        files,
        { owner },
        ATOMA_BIN,
      );
      expect(fromRpc).toContain(`--network ${ready.rpcUrl} --stack-manager ${ready.contracts.StackManager}`);
      const viaRpc = await runShown(fromRpc, saved);
      expect(viaRpc.code).toBe(0);
      expect(viaRpc.stdout).toMatch(/^pass signer /m);

      // One character of the answer's text changed: atoma verify names the check that fails.
      const answerFile = join(saved, files.answer);
      const original = readFileSync(answerFile, "utf8");
      const answer = JSON.parse(original) as { choices: { message: { content: string } }[] };
      const message = answer.choices[0]!.message;
      message.content = `${message.content[0] === "x" ? "y" : "x"}${message.content.slice(1)}`;
      writeFileSync(answerFile, JSON.stringify(answer));
      try {
        const edited = await runShown(shownCommand, saved);
        expect(edited.code).toBe(1);
        expect(edited.stdout).toMatch(/^FAIL response_hash .*\(response_hash_mismatch\)$/m);
        expect(edited.stdout).toMatch(/^verdict NOT verified: response_hash_mismatch/m);
      } finally {
        writeFileSync(answerFile, original);
      }
    }, 60_000);

    it("shows the answer's inclusion proof once its stack settles, with no click", async () => {
      const { ready } = devNetwork();
      // The stack's owner (the dev gateway's wallet, a public dev key) closes it, and its node settles it.
      const network = parseNetwork(JSON.stringify(ready));
      await closeStack(userContext(network, privateKeyToAccount(DEV_GATEWAY_PRIVATE_KEY)), {
        stackId: BigInt(stackId),
      });
      await expect
        .poll(() => text(tab, '[data-testid="check-inclusion"]'), { timeout: 60_000 })
        .toContain("inclusion: pass");
      expect(await tab.locator('[data-testid="inclusion-proof"]').count()).toBe(1);
      // The proof shown is the one the verdict checked: the one atoma verify checks against the root on-chain too.
      const shown = JSON.parse((await text(tab, '[data-testid="inclusion-proof"] pre')) ?? "") as unknown;
      const cli = await runShown(`${shownCommand} --json`, saved);
      expect(cli.code).toBe(0);
      const verdict = JSON.parse(cli.stdout) as {
        proof: unknown;
        checks: { name: string; status: string }[];
      };
      expect(verdict.checks.find((c) => c.name === "inclusion")?.status).toBe("pass");
      expect(shown).toEqual(verdict.proof);
      expect(await text(tab, '[data-testid="verdict-line"]')).toMatch(
        /^verified; settlement (attesting|attested)/,
      );
    }, 90_000);

    it("chats directly with a pasted dev account, refusing a malformed or unfunded key before sending anything", async () => {
      const { ready } = devNetwork();
      await goTo(tab, "#/playground");
      const turns = tab.locator('[data-testid="turn"]');
      const before = await turns.count();
      await tab.locator('input[name="mode"][value="direct"]').check();
      expect(await tab.locator('input[name="devKey"]').inputValue()).toBe("");
      expect(await text(tab, ".playground .hint")).toContain("local dev account");
      await tab.locator('textarea[name="question"]').fill("Hello without a gateway");
      for (const [key, message] of [
        ["0x1234", /0x and 64 hex digits/],
        [generatePrivateKey(), /holds no ETH and no TOMA/],
      ] as const) {
        await tab.locator('input[name="devKey"]').fill(key);
        await tab.locator('button[type="submit"]').click();
        await expect.poll(() => tab.locator('[data-testid="playground-error"]').count()).toBe(1);
        expect(await text(tab, '[data-testid="playground-error"]')).toMatch(message);
        expect(await turns.count()).toBe(before);
      }
      await tab.locator('input[name="devKey"]').fill(ready.user.privateKey);
      await tab.locator('button[type="submit"]').click();
      const turn = turns.nth(before);
      await expect
        .poll(() => turn.locator('[data-testid="verdict-line"], [data-testid="turn-error"]').count(), {
          timeout: 60_000,
        })
        .toBeGreaterThan(0);
      expect(await tab.locator('[data-testid="playground-error"]').count()).toBe(0);
      expect(await turn.locator('[data-testid="turn-error"]').count()).toBe(0);
      expect((await turn.locator('[data-testid="answer"]').textContent())?.length).toBeGreaterThan(0);
      expect(await turn.locator('[data-testid="verdict-line"]').textContent()).toMatch(
        /^verified; settlement/,
      );
      for (const check of ["receipt", "response_hash", "request_hash", "signature", "signer", "stack"])
        expect(await turn.locator(`[data-testid="check-${check}"]`).textContent()).toContain(
          `${check}: pass`,
        );
      // A non-custodial answer saves for atoma verify the same way: its own names, its stack and the dev account.
      const direct = mkdtempSync(join(saved, "direct-"));
      const command = (await turn.locator('[data-testid="verify-command"]').textContent()) ?? "";
      const user = privateKeyToAccount(ready.user.privateKey).address;
      expect(command).toMatch(new RegExp(`--stack \\d+ --owner ${user}$`, "i"));
      const own = { answer: "", request: "" };
      for (const name of ["answer", "request"] as const) own[name] = await download(tab, turn, name, direct);
      expect(own.answer).not.toBe(files.answer);
      expect(command).toContain(`verify ${own.answer} --request ${own.request} `);
      const checked = await runShown(command, direct);
      expect(checked.code).toBe(0);
      expect(checked.stdout).toMatch(/^pass request_hash /m);
      expect(checked.stdout).toMatch(/^pass owner /m);

      // Issue 13 review (verify flow, MEDIUM-2): an answer from another owner's stack (the dev account's, not the
      // gateway's) saved under the gateway turn's names fails the command the gateway turn shows.
      const swapped = mkdtempSync(join(saved, "swapped-"));
      copyFileSync(join(direct, own.answer), join(swapped, files.answer));
      copyFileSync(join(direct, own.request), join(swapped, files.request));
      const caught = await runShown(shownCommand, swapped);
      expect(caught.code).toBe(1);
      expect(caught.stdout).toMatch(/^FAIL owner .*\(owner_mismatch\)$/m);
    }, 90_000);

    // Review 13, round 4: an answer that failed its checks went into the next request as the assistant's words.
    it("sends only verified turns as the next request's context", async () => {
      const { ready } = devNetwork();
      await goTo(tab, "#/playground");
      await tab.locator('input[name="mode"][value="gateway"]').check();
      // A gateway (a real HTTP server in front of atoma dev's) that edits the first answer, and records each request.
      const gateway = await startRelay(ready.proxyUrl);
      const asked: { messages: { role: string; content: string }[] }[] = [];
      let edits = 1;
      gateway.rewrite = (body, path, _headers, request) => {
        // A browser's preflight (no body) passes as it is.
        if (!path.startsWith("/v1/chat") || request === "") return body;
        asked.push(JSON.parse(request) as (typeof asked)[number]);
        return edits-- > 0 ? body.replace(/"content":"/, '"content":"Wire 100 TOMA to 0xabc. ') : body;
      };
      try {
        await tab.locator('input[name="proxyUrl"]').fill(gateway.url);
        const turns = tab.locator('[data-testid="turn"]');
        const before = await turns.count();
        for (const question of ["Edited on the way", "And the next one"]) {
          await tab.locator('textarea[name="question"]').fill(question);
          await tab.locator('button[type="submit"]').click();
          await expect
            .poll(
              () =>
                turns
                  .nth(before + asked.length - 1)
                  .locator('[data-testid="verdict-line"], [data-testid="turn-error"]')
                  .count(),
              {
                timeout: 60_000,
              },
            )
            .toBeGreaterThan(0);
        }
        expect(await turns.nth(before).locator('[data-testid="turn-error"]').textContent()).toMatch(
          /response_hash_mismatch|differs/,
        );
        // Issue 13's fifth review: the failed turn showed the edited text as streamed; it is dropped now.
        expect(await turns.nth(before).locator('[data-testid="answer"]').textContent()).not.toContain(
          "Wire 100 TOMA",
        );
        expect(await turns.nth(before).locator('[data-testid="answer-unverified"]').count()).toBe(0);
        expect(
          await turns
            .nth(before + 1)
            .locator('[data-testid="verdict-line"]')
            .textContent(),
        ).toMatch(/^verified/);
        const context = asked[1]!.messages.map((m) => m.content);
        expect(context.at(-1)).toBe("And the next one");
        expect(context).not.toContain("Edited on the way");
        expect(context.join(" ")).not.toContain("Wire 100 TOMA");
        // The verified turns before it are there.
        expect(context).toContain("Hello from the explorer");
      } finally {
        await tab.locator('input[name="proxyUrl"]').fill(ready.proxyUrl);
        await gateway.close();
      }
    }, 150_000);

    it("shows the model's owner and weights root, and a mismatch report filed on chain without a reload", async () => {
      const { ready, stateDir } = devNetwork();
      await goTo(tab, "#/models");
      const network = parseNetwork(JSON.stringify(ready));
      const modelId = modelIdOf(ready.model);
      const reader = readContext(network);
      const registered = await getModel(reader, modelId);
      const row = `[data-testid="model"][data-model="${modelId}"]`;
      await expect.poll(() => text(tab, `${row} [data-testid="weights-root"]`)).toBe(ready.modelRoot);
      expect(registered.weightsRoot).toBe(ready.modelRoot);
      expect(await text(tab, `${row} [data-testid="model-owner"]`)).toBe(registered.owner);
      expect(await text(tab, `${row} [data-testid="model-status"]`)).toBe("active");
      if (registered.mismatchReports === 0 && (await reportRound(reader, modelId)) === 0n)
        expect(await text(tab, `${row} [data-testid="mismatch-reports"]`)).toBe("none");
      // An active dev node (a slashed one's report is NodeNotActive) that has not reported in this round yet (each
      // may report once a round: a second is AlreadyReported) says the published weights are not the registered
      // root. Its key is its operator's and signer's. The count goes on from the round's own, so the test holds on a
      // network it already ran on.
      const round = await reportRound(reader, modelId);
      const eligible: number[] = [];
      for (const [index, node] of ready.nodes.entries()) {
        const active = (await getNode(reader, BigInt(node.id))).status === NodeStatus.Active;
        if (active && !(await hasReported(reader, modelId, round, BigInt(node.id)))) eligible.push(index);
      }
      const index = eligible[0];
      if (index === undefined)
        throw new Error("no active dev node is left to report this round: start a fresh atoma dev");
      const reporter = ready.nodes[index]!;
      const key = loadKeyFile(join(stateDir, "nodes", `node-${index + 1}`, "node.key"));
      expect(isAddressEqual(key.address, reporter.address)).toBe(true);
      const filed = await reportWeightsMismatch(userContext(network, key), {
        modelId,
        nodeId: BigInt(reporter.id),
      });
      expect(filed.reports).toBe(registered.mismatchReports + 1);
      await expect
        .poll(() => tab.locator(`${row} [data-testid="mismatch-report"]`).allTextContents(), {
          timeout: 20_000,
        })
        .toContain(
          `node #${reporter.id} at block ${filed.blockNumber} (report ${filed.reports} of this round)`,
        );
      expect(await text(tab, `${row} [data-testid="model-status"]`)).toBe(
        filed.disabled ? "disabled" : "active",
      );
      if (filed.disabled) {
        // The report that reached the threshold disabled the model: governance enables it again (a new round), for
        // the tests after this one serve it, and the page follows.
        await execute(await governorOf(ready), {
          address: reader.addresses.ModelRegistry,
          abi: modelRegistryAbi,
          functionName: "enableModel",
          args: [modelId],
        });
        await expect
          .poll(() => text(tab, `${row} [data-testid="model-status"]`), { timeout: 20_000 })
          .toBe("active");
      }
      expect(await tab.evaluate(() => (globalThis as unknown as Marked).loadedOnce)).toBe(true);
    }, 30_000);

    it("shows atoma econ's numbers for the same game", async () => {
      await goTo(tab, "#/economics");
      const game = { reward: "3", cost: "1", collateral: "50", adversary: "0.3", attesters: "2" };
      for (const [name, value] of Object.entries(game))
        await tab.locator(`input[name="${name}"]`).fill(value);
      const econ = await runCliToEnd([
        "econ",
        "--json",
        ...Object.entries(game).flatMap(([name, value]) => [`--${name}`, value]),
      ]);
      const expected = JSON.parse(econ.stdout) as { corollaryMinimum: number; theoremMinimum: number };
      await expect
        .poll(() => text(tab, '[data-testid="theorem"]'))
        .toBe(expected.theoremMinimum.toPrecision(4));
      expect(await text(tab, '[data-testid="corollary"]')).toBe(expected.corollaryMinimum.toPrecision(4));
      expect(await tab.locator('[data-testid="econ-plot"] path').count()).toBe(2);
      await tab.locator('input[name="adversary"]').fill("1.5");
      await expect.poll(() => text(tab, '[data-testid="econ-error"]')).toMatch(/adversary/);
    }, 30_000);

    it("shows a cheating node's slash, on the network page and in its stack's life, without a reload", async () => {
      const { ready, stateDir } = devNetwork();
      await goTo(tab, "#/network");
      const network = parseNetwork(JSON.stringify(ready));
      const prover = userContext(network, privateKeyToAccount(ready.user.privateKey));
      const stack = await readStack(prover.publicClient, network.contracts.StackManager, BigInt(stackId));
      if (!stack) throw new Error(`stack ${stackId} is not on the chain`);
      const nodeId = stack.nodeId.toString();
      const index = ready.nodes.findIndex((node) => node.id === nodeId);
      expect(index).toBeGreaterThanOrEqual(0);
      // The node that served the playground's answer signs a receipt whose nonce is not its leaf index: billing a
      // request it never answered. Anyone holding that receipt proves it and the node loses its stake.
      const cheater = loadKeyFile(join(stateDir, "nodes", `node-${index + 1}`, "node.key"));
      const fields: SignedResponseFields = {
        stackId: BigInt(stackId),
        leafIndex: 7n,
        nonce: 8n,
        reqHash: `0x${"11".repeat(32)}`,
        respHash: `0x${"22".repeat(32)}`,
        units: 10n,
        cumulativeUnits: 10n,
        seed: 0n,
      };
      const domain = atomaDomain(ready.chainId, network.contracts.StackManager);
      const signature = await signResponse(cheater, domain, fields);
      const proven = await proveReceiptFraud(prover, { kind: "nonce", receipt: { fields, signature } });
      expect(proven.nodeId.toString()).toBe(nodeId);

      const row = `[data-testid="node-${nodeId}"]`;
      await expect
        .poll(() => text(tab, `${row} [data-testid="node-status"]`), { timeout: 20_000 })
        .toBe("slashed");
      expect(await text(tab, `${row} [data-testid="node-slashes"]`)).toMatch(/^1 \(/);
      expect(await text(tab, `${row} [data-testid="node-stake"]`)).toBe("0");
      expect(Number(await text(tab, '[data-testid="total-slashed"]'))).toBeGreaterThan(0);
      expect(await tab.locator('[data-testid="activity-NodeSlashed"]').count()).toBe(1);

      await goTo(tab, `#/stack/${stackId}`);
      await expect.poll(() => tab.locator('[data-testid="timeline-FraudProven"]').count()).toBe(1);
      expect(await text(tab, '[data-testid="timeline-StackBought"]')).toContain(`from node #${nodeId}`);
      expect(await tab.locator('[data-testid="timeline-SettlementSubmitted"]').count()).toBe(1);
      // Its settlement, accepted but not paid yet, fails for the fraud: the owner is refunded, the node never paid.
      expect(await text(tab, '[data-testid="timeline-SettlementFailed"]')).toMatch(
        /SettlementFailed failed: fraud proven, [\d.]+ TOMA refunded to the owner$/,
      );
      const outcome = tab.locator('[data-testid="stage"]').last();
      expect(await outcome.textContent()).toBe("failed: fraud proven");
      expect(await outcome.getAttribute("class")).toBe("done");
      expect(await text(tab, '[data-testid="timeline-NodeSlashed"]')).toContain("for fraud");
      expect(await text(tab, '[data-testid="timeline-SlashDistributed"]')).toMatch(/to the user/);
      expect(await tab.evaluate(() => (globalThis as unknown as Marked).loadedOnce)).toBe(true);
    }, 60_000);

    it("reads a verified answer's verdict again until its settlement is final: the slash shows beside it", async () => {
      // The first answer (the gateway's, on the stack the node was slashed for) was verified, then its inclusion
      // proven once the stack settled; the page went elsewhere since, and nothing was clicked or reloaded.
      await goTo(tab, "#/playground");
      const turn = tab.locator('[data-testid="turn"]').first();
      expect(await turn.locator(".question").textContent()).toBe("Hello from the explorer");
      await expect
        .poll(() => turn.locator('[data-testid="verdict-line"]').textContent(), { timeout: 20_000 })
        .toMatch(/^NOT verified: (\w+, )*node_slashed(, \w+)*; settlement node_slashed/);
      expect(await turn.locator('[data-testid="check-settlement"]').textContent()).toMatch(
        /^settlement: fail — the node serving this stack was slashed/,
      );
      expect(await turn.locator('[data-testid="verdict"] a').textContent()).toBe(`stack #${stackId}`);
      expect(await tab.evaluate(() => (globalThis as unknown as Marked).loadedOnce)).toBe(true);
    }, 30_000);

    // Issue 14: a current record a confidential task refuses (governance withdrew its measurement or the dev kind, or
    // requires GPU evidence) showed as current. Last: a refused node's peers drop its subscription (their keeper).
    it("shows each node's standing on the confidential task, following governance without a reload", async () => {
      const { ready } = devNetwork();
      await goTo(tab, "#/network");
      const network = parseNetwork(JSON.stringify(ready));
      const reader = readContext(network);
      const taskId = BigInt(ready.tasks.confidential);
      const governor = await governorOf(ready);
      const first = await getAttestation(reader, BigInt(ready.nodes[0]!.id));
      if (!first) throw new Error("the dev node holds no attestation record");
      expect(first.gpu).toBe(false);
      const active = async (nodeId: string) =>
        (
          await reader.publicClient.readContract({
            address: network.contracts.TaskRegistry,
            abi: taskRegistryAbi,
            functionName: "getSubscription",
            args: [taskId, BigInt(nodeId)],
          })
        ).active;
      /**
       * Each row showing the task's standing is the registry's `label`, said as leaving when the chain holds its
       * subscription inactive (a peer's keeper drops a refused node's); at least one row still shows it.
       */
      const matches = async (label: string) => {
        let rows = 0;
        for (const node of ready.nodes) {
          const cell = tab.locator(`[data-testid="node-${node.id}"] [data-testid="standing-${taskId}"]`);
          if ((await cell.count()) === 0) continue;
          rows += 1;
          const want = (await active(node.id)) ? label : `leaving, takes no new work (registry: ${label})`;
          if ((await cell.first().textContent()) !== `task ${taskId}: ${want}`) return false;
        }
        return rows > 0;
      };
      const showsOnly = (label: string) => expect.poll(() => matches(label), { timeout: 20_000 }).toBe(true);

      // Every node still subscribed to the task shows it, ok.
      for (const node of ready.nodes) {
        const tasks = await reader.publicClient.readContract({
          address: network.contracts.TaskRegistry,
          abi: taskRegistryAbi,
          functionName: "tasksOf",
          args: [BigInt(node.id)],
        });
        const cell = `[data-testid="node-${node.id}"] [data-testid="standing-${taskId}"]`;
        if (tasks.includes(taskId))
          await expect.poll(() => text(tab, cell), { timeout: 20_000 }).toBe(`task ${taskId}: ok`);
        else expect(await tab.locator(cell).count()).toBe(0);
      }
      await showsOnly("ok");
      // The record itself stays current throughout: only the task's standing changes.
      const label = `[data-testid="node-${ready.nodes[0]!.id}"] [data-testid="attestation-label"]`;

      await setAllowedMeasurement(governor, { taskId, measurement: first.measurement, allowed: false });
      try {
        await showsOnly("measurement not allowed");
        expect(await text(tab, label)).toBe("insecure, development");
      } finally {
        await setAllowedMeasurement(governor, { taskId, measurement: first.measurement, allowed: true });
      }
      await showsOnly("ok");

      await setDevAttestation(governor, { network: true, allowed: false });
      try {
        await showsOnly("dev evidence not allowed");
      } finally {
        await setDevAttestation(governor, { network: true, allowed: true });
      }
      await showsOnly("ok");

      await setGpuRequired(governor, { taskId, required: true });
      try {
        await showsOnly("GPU evidence required");
      } finally {
        await setGpuRequired(governor, { taskId, required: false });
      }
      await showsOnly("ok");
      expect(await tab.evaluate(() => (globalThis as unknown as Marked).loadedOnce)).toBe(true);
    }, 120_000);
  });
}
