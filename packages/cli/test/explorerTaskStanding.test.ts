import { attestationRegistryAbi, taskRegistryAbi } from "@atoma/contracts";
import type { Hex } from "viem";
import { describe, expect, it } from "vitest";
import type { ChainEvent } from "../../../apps/explorer/src/chain/chainEvent.js";
import {
  confidentialTasks,
  STANDINGS_SHOWN,
  standingLabel,
  standingOf,
  standingTasks,
  takesWork,
} from "../../../apps/explorer/src/chain/taskStanding.js";

const model = (n: number): Hex => `0x${n.toString(16).padStart(64, "0")}`;

const created = (taskId: bigint, securityLevel: number, modelId: Hex): ChainEvent => ({
  contract: "TaskRegistry",
  name: "TaskCreated",
  args: { taskId, securityLevel, modelId },
  block: 1n,
  tx: "0x",
  logIndex: 0,
  address: "0x0000000000000000000000000000000000000001",
});

/** What the network page says of a node's standing on a confidential task, from the registry's `standing`. */
describe("the explorer's task standing", () => {
  it("labels each value of the registry's Standing enum, in the ABI's order", () => {
    // The enum as the generated ABI has it: its values are read by position, so the order is the contract's.
    const standing = attestationRegistryAbi.find(
      (item) => item.type === "function" && item.name === "standing",
    );
    expect(standing?.type === "function" && standing.outputs[0]?.type).toBe("uint8");
    const labels = [0, 1, 2, 3, 4, 5].map((value) =>
      standingLabel({ taskId: 7n, standing: standingOf(value), value }),
    );
    expect(labels).toEqual([
      "ok",
      "not attested",
      "attestation expired",
      "measurement not allowed",
      "dev evidence not allowed",
      "GPU evidence required",
    ]);
    // A value a newer registry adds is shown as unknown, never as ok.
    expect(standingOf(6)).toBeUndefined();
    expect(standingLabel({ taskId: 7n, standing: standingOf(6), value: 6 })).toBe("unknown standing (6)");
  });

  it("says a subscription that is no longer active takes no new work, whatever the registry says now", () => {
    const dropped = { taskId: 7n, standing: standingOf(0), value: 0, leaving: true };
    expect(standingLabel(dropped)).toBe("leaving, takes no new work (registry: ok)");
    expect(takesWork(dropped)).toBe(false);
    expect(takesWork({ ...dropped, leaving: false })).toBe(true);
    expect(takesWork({ taskId: 7n, standing: standingOf(3), value: 3 })).toBe(false);
  });

  it("reads standings only for the node's confidential tasks, capped, counting the rest", () => {
    expect(taskRegistryAbi.some((item) => item.type === "function" && item.name === "tasksOf")).toBe(true);
    const events = [created(1n, 0, model(1)), created(2n, 3, model(1)), created(3n, 2, model(2))];
    for (let id = 4n; id < 12n; id++) events.push(created(id, 3, model(Number(id))));
    const confidential = confidentialTasks(events);
    expect([...confidential.keys()]).toEqual([2n, 4n, 5n, 6n, 7n, 8n, 9n, 10n, 11n]);
    expect(confidential.get(5n)).toBe(model(5));
    // A node subscribed to a level-1 and a level-2 task and two confidential ones: only those two are read.
    expect(standingTasks([1n, 2n, 3n, 9n], confidential)).toEqual({
      read: [
        { taskId: 2n, modelId: model(1) },
        { taskId: 9n, modelId: model(9) },
      ],
      more: 0,
    });
    // A node on every task: the first few read, the others counted; none read for a task of no event.
    const many = standingTasks([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n, 11n, 99n], confidential);
    expect(many.read.map((task) => task.taskId)).toEqual([2n, 4n, 5n, 6n]);
    expect(many.read).toHaveLength(STANDINGS_SHOWN);
    expect(many.more).toBe(9 - STANDINGS_SHOWN);
  });
});
