import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  DisputeKind,
  SettlementPhase,
  StackStatus,
  settlementPhaseNames,
  stackStatusNames,
} from "../generated/index.js";
import { compileSources } from "./compile.js";
import { enumExportName } from "./enumsModule.js";

/** The members of `enum <name> { … }` as the Solidity source lists them, comments left out. */
function declaredMembers(path: string, name: string): string[] {
  const source = readFileSync(new URL(`../${path}`, import.meta.url), "utf8");
  const body = new RegExp(`enum ${name}\\s*\\{([^}]*)\\}`).exec(source)?.[1];
  if (body === undefined) throw new Error(`no enum ${name} in ${path}`);
  return body
    .replace(/\/\/[^\n]*/g, "")
    .split(",")
    .map((member) => member.trim())
    .filter((member) => member.length > 0);
}

describe("the contracts' enums", () => {
  it("are generated in the order the Solidity sources declare them", () => {
    expect(settlementPhaseNames).toEqual(declaredMembers("src/interfaces/ISettlementManager.sol", "Phase"));
    expect(stackStatusNames).toEqual(declaredMembers("src/interfaces/IStackManager.sol", "StackStatus"));
    expect(SettlementPhase.Drawing).toBe(8);
    expect(SettlementPhase.Opening).toBe(9);
    expect(StackStatus.Pending).toBe(4);
    expect(DisputeKind.Consensus).toBe(2);
  });

  it("are found in interfaces, contracts and at file level, by their solc canonical names", () => {
    const { enums } = compileSources({
      "src/E.sol": {
        content: `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
enum Level { Low, High }
interface IThingRegistry { enum ThingStatus { None, Live } }
contract Things { enum Kind { A, B, C } }`,
      },
    });
    expect(enums).toEqual([
      { canonicalName: "Level", sourceName: "src/E.sol", members: ["Low", "High"] },
      { canonicalName: "IThingRegistry.ThingStatus", sourceName: "src/E.sol", members: ["None", "Live"] },
      { canonicalName: "Things.Kind", sourceName: "src/E.sol", members: ["A", "B", "C"] },
    ]);
  });

  it("are named after their contract's stem unless their own name starts with it", () => {
    expect(enumExportName("ISettlementManager.Phase")).toBe("SettlementPhase");
    expect(enumExportName("DisputeManager.Status")).toBe("DisputeStatus");
    expect(enumExportName("ConsensusRequests.Status")).toBe("ConsensusRequestStatus");
    expect(enumExportName("INodeRegistry.NodeStatus")).toBe("NodeStatus");
    expect(enumExportName("Level")).toBe("Level");
  });
});
