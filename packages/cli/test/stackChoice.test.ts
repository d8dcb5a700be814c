import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatEther } from "viem";
import { generatePrivateKey } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNetwork, type TestNetwork, type TestNode } from "../../chain/test/network.js";
import { nodesAtRisingPrices, risingPrice } from "../../chain/test/risingPrices.js";
import { expectRefused, runCliToEnd } from "./cliProcess.js";
import { writeKeyFiles } from "./keyFiles.js";

interface Member {
  nodeId: string;
  price: string;
}

/**
 * `atoma stack buy --node <id>` and `--set <k>` (with `--choose-later` and `atoma stack choose`) on anvil with the
 * whole system deployed and three nodes at different prices; bad options and refused choices end with one line.
 */
describe("atoma stack buy --node / --set, atoma stack choose", () => {
  const dir = mkdtempSync(join(tmpdir(), "atoma-cli-pick-"));
  const networkFile = join(dir, "network.json");
  const owner = { key: generatePrivateKey(), file: join(dir, "owner.key") };
  const stranger = { key: generatePrivateKey(), file: join(dir, "stranger.key") };
  let network: TestNetwork;
  let nodes: TestNode[];
  let taskId: bigint;

  const buy = (...more: string[]) => [
    ...["stack", "buy", "--network", networkFile, "--key-file", owner.file],
    ...["--task", String(taskId), "--units", "10000", "--max-price", "3", ...more],
  ];

  beforeAll(async () => {
    network = await startNetwork();
    ({ nodes, taskId } = await nodesAtRisingPrices(network, 3));
    await writeKeyFiles(network, [owner, stranger], networkFile);
  }, 180_000);

  afterAll(async () => {
    await network?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("buys from the node named by --node, at its price, in one transaction", async () => {
    const named = nodes[1]!;
    const bought = await runCliToEnd(buy("--node", String(named.nodeId)));
    expect(bought.code, bought.stderr).toBe(0);
    const stack = JSON.parse(bought.stdout) as Record<string, unknown>;
    expect(stack).toMatchObject({
      nodeId: String(named.nodeId),
      nodeUrl: "http://127.0.0.1:8080",
      price: formatEther(risingPrice(1)),
      units: "10000",
    });
    expect(stack).not.toHaveProperty("drawTx");
    const status = await runCliToEnd(["stack", "status", String(stack.stackId), "--network", networkFile]);
    expect(JSON.parse(status.stdout)).toMatchObject({ status: "active", nodeId: String(named.nodeId) });
  });

  it("buys from a set drawn by --set, bound to its cheapest member", async () => {
    const bought = await runCliToEnd(buy("--set", "2"));
    expect(bought.code, bought.stderr).toBe(0);
    const stack = JSON.parse(bought.stdout) as { nodeId: string; price: string; set: Member[] } & Record<
      string,
      unknown
    >;
    expect(stack.set).toHaveLength(2);
    const cheapest = [...stack.set].sort((a, b) => Number(a.price) - Number(b.price))[0]!;
    expect(stack).toMatchObject({ nodeId: cheapest.nodeId, price: cheapest.price });
    expect(new Set([stack.tx, stack.drawTx, stack.chooseTx]).size).toBe(3);
  });

  it("with --choose-later, prints the set; `stack choose` binds the stack once, for its owner only", async () => {
    const drawn = await runCliToEnd(buy("--set", "3", "--choose-later"));
    expect(drawn.code, drawn.stderr).toBe(0);
    const pending = JSON.parse(drawn.stdout) as { stackId: string; status: string; set: Member[] };
    expect(pending.status).toBe("choosing");
    expect(pending.set.map((m) => m.nodeId).sort()).toEqual(nodes.map((n) => String(n.nodeId)).sort());
    const status = await runCliToEnd(["stack", "status", pending.stackId, "--network", networkFile]);
    expect(JSON.parse(status.stdout)).toMatchObject({ status: "choosing", nodeId: "0" });

    const choose = (node: string, keyFile = owner.file) => [
      ...["stack", "choose", pending.stackId, "--node", node],
      ...["--network", networkFile, "--key-file", keyFile],
    ];
    const priciest = pending.set.find((m) => m.price === formatEther(risingPrice(2)))!;
    await expectRefused(choose(priciest.nodeId, stranger.file), /belongs to .*, not to this key/);
    const chosen = await runCliToEnd(choose(priciest.nodeId));
    expect(chosen.code, chosen.stderr).toBe(0);
    expect(JSON.parse(chosen.stdout)).toMatchObject({
      stackId: pending.stackId,
      nodeId: priciest.nodeId,
      price: priciest.price,
    });
    await expectRefused(choose(pending.set[0]!.nodeId), /is not waiting for a choice from a drawn set/);
  });

  it("`stack choose --cancel` cancels a drawn set for its owner, refunded in full", async () => {
    const drawn = await runCliToEnd(buy("--set", "2", "--choose-later"));
    expect(drawn.code, drawn.stderr).toBe(0);
    const pending = JSON.parse(drawn.stdout) as { stackId: string };
    const cancel = (...more: string[]) => [
      ...["stack", "choose", pending.stackId, ...more],
      ...["--network", networkFile, "--key-file", owner.file],
    ];
    await expectRefused(cancel(), /give either --node <id> or --cancel/);
    await expectRefused(cancel("--cancel", "--node", "1"), /give either --node <id> or --cancel/);
    const cancelled = await runCliToEnd(cancel("--cancel"));
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(JSON.parse(cancelled.stdout)).toMatchObject({ stackId: pending.stackId, cancelled: true });
    await expectRefused(cancel("--cancel"), /is not waiting for a choice from a drawn set/);
  });

  it("refuses bad options and nodes it may not name with one line", async () => {
    await expectRefused(buy("--node", "1", "--set", "2"), /cannot be used with/);
    await expectRefused(buy("--set", "1"), /--set must be a whole number from 2 to 16/);
    await expectRefused(buy("--set", "17"), /--set must be a whole number from 2 to 16/);
    await expectRefused(buy("--choose-later"), /--choose-later goes with --set/);
    // The last --max-price counts: node 3 asks 3 TOMA, above a cap of 2.
    await expectRefused(buy("--max-price", "2", "--node", String(nodes[2]!.nodeId)), /NodeNotOffered/);
    await expectRefused(buy("--node", "99"), /NodeNotOffered/);
  });
});
