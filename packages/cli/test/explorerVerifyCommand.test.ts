import { parseNetwork } from "@atoma/sdk";
import { describe, expect, it } from "vitest";
import { verifyCommand } from "../../../apps/explorer/src/playground/verifyCommand.js";

const network = parseNetwork(
  JSON.stringify({
    rpcUrl: "http://127.0.0.1:8545",
    chainId: 31337,
    contracts: Object.fromEntries(
      ["AtomaToken", "NodeRegistry", "TaskRegistry", "AtomaVault", "StackManager"].map((name, i) => [
        name,
        `0x${String(i + 1).repeat(40)}`,
      ]),
    ),
  }),
);

describe("the atoma verify command the playground shows", () => {
  it("names atoma dev's network file, quoted when a shell would split or expand it", () => {
    expect(verifyCommand(network, "/tmp/atoma-dev-x/network.json")).toBe(
      "npx atoma verify answer.json --request request.json --network /tmp/atoma-dev-x/network.json",
    );
    // A state directory with a space, a quote and a `$`: one word, nothing expanded.
    expect(verifyCommand(network, "/home/a b/it's $HOME/network.json")).toBe(
      `npx atoma verify answer.json --request request.json --network '/home/a b/it'\\''s $HOME/network.json'`,
    );
  });

  it("without a network file, names the RPC URL and the StackManager", () => {
    expect(verifyCommand(network, undefined)).toBe(
      `npx atoma verify answer.json --request request.json --network http://127.0.0.1:8545 --stack-manager ${network.contracts.StackManager}`,
    );
  });
});
