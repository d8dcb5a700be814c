import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Anvil,
  type AtomaAddresses,
  approveEchelon,
  atomaContracts,
  type ChainContext,
  createAtomaPublicClient,
  createAtomaTestClient,
  createAtomaWalletClient,
  createTask,
  deployContracts,
  devAccounts,
  devParameters,
  getModel,
  getNode,
  getSubscription,
  modelIdOf,
  registerModel,
  SecurityLevel,
  startAnvil,
  TaskRole,
} from "@atoma/chain";
import { ensureTinyModel, weightsRoot } from "@atoma/engine";
import { fingerprintOfConfig, writeDevKeyFile } from "@atoma/node";
import { type Address, keccak256, parseEther, stringToBytes } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfigFile } from "../src/nodeConfigFile.js";
import { runCliToEnd as cli, runCli, waitForReady } from "./cliProcess.js";

const root = mkdtempSync(join(tmpdir(), "atoma-cli-registration-"));
const tiny = ensureTinyModel();
const otherModel = ensureTinyModel({ seed: 7 });
let anvil: Anvil;
let admin: ChainContext;
let addresses: AtomaAddresses;
let taskId: bigint;

/** A fresh node key with gas and TOMA, and a node.toml for it serving `modelPath` as the tiny model. */
async function operator(
  name: string,
  modelPath = tiny.path,
  toma = "5000",
): Promise<{ config: string; address: Address }> {
  const key = await writeDevKeyFile(join(root, name, "node.key"));
  const chain = { rpcUrl: anvil.rpcUrl, chainId: anvil.chainId };
  await createAtomaTestClient(chain).setBalance({ address: key.address, value: parseEther("10") });
  const { token } = atomaContracts(addresses, admin.publicClient, admin.walletClient);
  await admin.publicClient.waitForTransactionReceipt({
    hash: await token.write.transfer([key.address, parseEther(toma)]),
  });
  const contracts = Object.entries(addresses)
    .filter(([, address]) => address !== undefined)
    .map(([contract, address]) => `${contract} = "${address}"`)
    .join(", ");
  const config = join(root, name, "node.toml");
  writeFileSync(
    config,
    [
      "[chain]",
      `rpcUrl = "${anvil.rpcUrl}"`,
      `chainId = ${anvil.chainId}`,
      `contracts = { ${contracts} }`,
      "[node]",
      'keyFile = "node.key"',
      "port = 0",
      'dataDir = "data"',
      "[model]",
      `path = "${modelPath}"`,
      `id = "${tiny.id}"`,
    ].join("\n"),
  );
  return { config, address: key.address };
}

/** `atoma node register` of the node `config` sets up, with `--echelon` and `--url` where given. */
const register = (config: string, collateral: string, echelon?: string, url?: string) => [
  ...["node", "register", "--config", config, "--collateral", collateral],
  ...(echelon === undefined ? [] : ["--echelon", echelon]),
  ...(url === undefined ? [] : ["--url", url]),
];

/** `atoma node subscribe` of the node `config` sets up to task `task`, then `more`. */
const subscribe = (config: string, task: string, price: string, capacity: string, ...more: string[]) => [
  ...["node", "subscribe", "--config", config, "--task", task, "--price", price, "--capacity", capacity],
  ...more,
];

beforeAll(async () => {
  anvil = await startAnvil();
  const chain = { rpcUrl: anvil.rpcUrl, chainId: anvil.chainId };
  const publicClient = createAtomaPublicClient(chain);
  const [deployer] = await devAccounts(chain);
  const walletClient = createAtomaWalletClient(chain, { address: deployer!, type: "json-rpc" });
  addresses = (await deployContracts(publicClient, walletClient)).addresses;
  admin = { publicClient, walletClient, addresses };
  // Echelons 1 and 3 approve the numerics these nodes compute (the probe does not depend on the served model);
  // echelon 5 approves another machine's.
  const { config: probe } = await operator("probe", tiny.path, "0");
  const fingerprint = (await fingerprintOfConfig(loadConfigFile(probe))).fingerprint;
  for (const echelon of [1, 3]) await approveEchelon(admin, { echelon, fingerprint });
  await approveEchelon(admin, { echelon: 5, fingerprint: keccak256(stringToBytes("another machine")) });
  const modelId = modelIdOf(tiny.id);
  await registerModel(admin, {
    modelId,
    weightsRoot: await weightsRoot(tiny.path),
    feeBps: 500,
    collateral: parseEther("100"),
    uri: "atoma://models/atoma-tiny",
  });
  taskId = (
    await createTask(admin, {
      modelId,
      role: TaskRole.Chat,
      securityLevel: SecurityLevel.CrossValidation,
      replicationPpm: 8_000,
      attesters: 1,
      sampleSize: 4,
    })
  ).taskId;
});
afterAll(async () => {
  await anvil?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("atoma node register / subscribe / unsubscribe", () => {
  it("stakes, registers, subscribes at a price, updates it, unsubscribes, and leaves once the notices pass", async () => {
    const { config, address } = await operator("good");
    const registered = await cli(register(config, "2000", "3", "http://127.0.0.1:9001"));
    expect(registered.stderr).toBe("");
    expect(registered.code).toBe(0);
    const out = JSON.parse(registered.stdout) as { nodeId: string; address: string; collateral: string };
    expect(out).toMatchObject({ address, collateral: "2000" });
    const nodeId = BigInt(out.nodeId);
    const node = await getNode(admin, nodeId);
    expect(node).toMatchObject({
      signer: address,
      operator: address,
      echelon: 3,
      url: "http://127.0.0.1:9001",
    });
    expect(node.collateral).toBe(parseEther("2000"));

    const subscribed = await cli(subscribe(config, String(taskId), "1.5", "1000000"));
    expect(subscribed.code, subscribed.stderr).toBe(0);
    // The subscription bonds the registry's minimum of the stake when --collateral is not given.
    expect(JSON.parse(subscribed.stdout)).toMatchObject({ updated: false, price: "1.5", collateral: "100" });
    let subscription = await getSubscription(admin, { taskId, nodeId });
    expect(subscription).toMatchObject({
      active: true,
      pricePerMillion: parseEther("1.5"),
      capacity: 1_000_000n,
    });

    const updated = await cli(subscribe(config, String(taskId), "2", "5", "--collateral", "150"));
    expect(updated.code, updated.stderr).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({ updated: true, collateral: "150" });
    subscription = await getSubscription(admin, { taskId, nodeId });
    expect(subscription).toMatchObject({
      active: true,
      pricePerMillion: parseEther("2"),
      capacity: 5n,
      collateral: parseEther("150"),
    });

    const leave = ["node", "unsubscribe", "--config", config, "--task", String(taskId)];
    const completeExit = [...leave, "--complete"];
    const left = await cli(leave);
    expect(left.code, left.stderr).toBe(0);
    expect((await getSubscription(admin, { taskId, nodeId })).active).toBe(false);
    // Leaving takes the exit notice: the command says when it completes, and each early step says when.
    const { exitAt } = JSON.parse(left.stdout) as { exitAt: string };
    const until = new Date(Number(exitAt) * 1000).toISOString();
    expect(left.stderr).toBe(
      `leaving task ${taskId}: no new stacks from now; keep the node running, it still checks until ${until}, ` +
        `when leaving completes (then: atoma node unsubscribe --task ${taskId} --complete)\n`,
    );
    const early = await cli(["node", "deregister", "--config", config]);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/still holds task subscriptions: leave each/);
    const notYet = await cli(completeExit);
    expect(notYet.code).toBe(1);
    expect(notYet.stderr).toBe(
      `atoma: the exit notice of task ${taskId} runs until ${until}: the node stays a checking candidate with its bond until then; complete the exit after it (exit_notice_running)\n`,
    );
    const chain = { rpcUrl: anvil.rpcUrl, chainId: anvil.chainId };
    const time = createAtomaTestClient(chain);
    const warp = async (seconds: bigint) => {
      await time.increaseTime({ seconds: Number(seconds) });
      await time.mine({ blocks: 1 });
    };
    // The deployment's (dev) parameters.
    const notice = devParameters.task.exitNotice;
    await warp(notice);
    const completed = await cli(completeExit);
    expect(completed.code, completed.stderr).toBe(0);
    expect(completed.stderr).toBe(`left task ${taskId}: its bond is released\n`);
    const gone = await cli(["node", "deregister", "--config", config]);
    expect(gone.code, gone.stderr).toBe(0);
    const { withdrawableAt } = JSON.parse(gone.stdout) as { withdrawableAt: string };
    const from = new Date(Number(withdrawableAt) * 1000).toISOString();
    expect(gone.stderr).toMatch(
      new RegExp(`^deregistered node ${nodeId}: its collateral is withdrawable from ${from}`),
    );
    const tooEarly = await cli(["node", "withdraw", "--config", config]);
    expect(tooEarly.code).toBe(1);
    expect(tooEarly.stderr).toBe(
      `atoma: the collateral of node ${nodeId} is withdrawable from ${from} (the exit notice after deregistering and after its last obligation; for a node that ever took a confidential task, the refund window after them too) (withdrawal_too_early)\n`,
    );
    await warp(notice);
    const withdrawn = await cli(["node", "withdraw", "--config", config]);
    expect(withdrawn.code, withdrawn.stderr).toBe(0);
    expect(withdrawn.stderr).toBe(`withdrew 2000 TOMA: node ${nodeId} has left the network\n`);
  }, 180_000);

  it("answers bad input and reverts with one line and a non-zero exit", async () => {
    const { config } = await operator("bad", tiny.path, "50");
    const cases: [string[], RegExp][] = [
      [register(config, "lots", "1"), /--collateral must be an amount of TOMA/],
      [register(config, "10"), /--echelon/],
      [register(config, "10", "1", "ftp://x"), /--url must be an http\(s\) URL/],
      [register(config, "10", "1"), /give --url/],
      [register(config, "1000", "7", "http://n"), /echelon 7 is not approved on this chain/],
      [
        register(config, "1000", "5", "http://n"),
        /refusing to register in echelon 5: this node's engine fingerprint is 0x[0-9a-f]{64} but its echelon approved/,
      ],
      [
        register(config, "10", "1", "http://n"),
        /register reverted with CollateralTooLow\(10000000000000000000, 1000000000000000000000\)/,
      ],
      [register(config, "1000", "1", "http://n"), /register reverted with ERC20InsufficientBalance/],
      [subscribe(config, "1", "1", "0"), /--capacity must be a whole number from 1/],
      [subscribe(config, "1", "1", "10"), /no node is registered with the key/],
      [register(join(root, "missing.toml"), "1", "1"), /cannot read config file/],
    ];
    for (const [args, message] of cases) {
      const result = await cli(args);
      expect(result.code, args.join(" ")).not.toBe(0);
      expect(result.stderr, args.join(" ")).toMatch(message);
      expect(result.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
    }
  }, 180_000);

  it("refuses a subscription for weights that differ from the registered root, or another model's task", async () => {
    const { config } = await operator("mismatch", otherModel.path);
    const registered = await cli(register(config, "1000", "1", "http://127.0.0.1:9002"));
    expect(registered.code, registered.stderr).toBe(0);
    const refused = await cli(subscribe(config, String(taskId), "1", "10"));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(
      /weights root is 0x[0-9a-f]{64} but 0x[0-9a-f]{64} is registered on-chain/,
    );
    const unknown = await cli(subscribe(config, "99", "1", "10"));
    expect(unknown.stderr).toMatch(/there is no task 99/);
  }, 180_000);

  it("node start refuses weights that differ from the registration, and reports them with --report-mismatch", async () => {
    const { config } = await operator("start-mismatch", otherModel.path);
    expect((await cli(register(config, "1000", "1", "http://n"))).code).toBe(0);
    const start = ["node", "start", "--config", config, "--log-level", "silent"];
    const refused = await cli(start);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^atoma: model "atoma-tiny": the file's weights root is .* refusing to serve it \(registered_weights_mismatch\)\n$/,
    );
    expect((await getModel(admin, modelIdOf(tiny.id))).mismatchReports).toBe(0);

    const reported = await cli([...start, "--report-mismatch"]);
    expect(reported.code).toBe(1);
    expect((await getModel(admin, modelIdOf(tiny.id))).mismatchReports).toBe(1);
  }, 180_000);

  it("node start serves when the weights match the registration", async () => {
    const { config } = await operator("start-good");
    const registered = await cli(register(config, "2000", "1", "http://127.0.0.1:9002"));
    expect(registered.code).toBe(0);
    const run = runCli(["node", "start", "--config", config, "--log-level", "warn"]);
    const ready = await waitForReady<{ url: string; model: string }>(run);
    expect(ready.model).toBe(tiny.id);
    expect((await fetch(`${ready.url}/health`)).status).toBe(200);
    run.child.kill("SIGINT");
    expect(await run.exited).toBe(0);
  }, 180_000);
});
