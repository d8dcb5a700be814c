import { parseNetwork } from "@atoma/sdk";
import { describe, expect, it } from "vitest";
import { answerFileNames, verifyCommand } from "../../../apps/explorer/src/playground/verifyCommand.js";

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

/** A fresh `atoma dev` chain: its id and its genesis block's hash (anvil's genesis holds the time it started). */
const chain = { chainId: 31337, genesisHash: `0x1a2b3c4d${"0".repeat(56)}` as const };
const files = answerFileNames({ stack_id: "3", leaf_index: "1" }, chain);
const owner = `0x${"ab".repeat(20)}`;

describe("the atoma verify command the playground shows", () => {
  it("names atoma dev's network file, quoted when a shell would split or expand it", () => {
    expect(verifyCommand(network, "/tmp/atoma-dev-x/network.json", files, undefined)).toBe(
      "npx atoma verify answer-31337-1a2b3c4d-3-1.json --request request-31337-1a2b3c4d-3-1.json --network /tmp/atoma-dev-x/network.json",
    );
    // A state directory with a space, a quote and a `$`: one word, nothing expanded.
    expect(verifyCommand(network, "/home/a b/it's $HOME/network.json", files, undefined)).toBe(
      `npx atoma verify answer-31337-1a2b3c4d-3-1.json --request request-31337-1a2b3c4d-3-1.json --network '/home/a b/it'\\''s $HOME/network.json'`,
    );
  });

  it("without a network file, names the RPC URL and the StackManager", () => {
    expect(verifyCommand(network, undefined, files, undefined)).toBe(
      `npx atoma verify answer-31337-1a2b3c4d-3-1.json --request request-31337-1a2b3c4d-3-1.json --network http://127.0.0.1:8545 --stack-manager ${network.contracts.StackManager}`,
    );
  });

  // Issue 13 review (verify flow, MEDIUM-2): the command checked less than the page (no owner, no level).
  it("names what the page's verdict held the answer to: the stack, the owner and the lowest security level", () => {
    expect(verifyCommand(network, "/tmp/n.json", files, { stackId: "3", owner, securityLevel: 0 })).toBe(
      `npx atoma verify answer-31337-1a2b3c4d-3-1.json --request request-31337-1a2b3c4d-3-1.json --network /tmp/n.json --stack 3 --owner ${owner} --security-level 0`,
    );
  });

  // Issue 13 re-audit: `npx atoma` outside the clone asked npm for a package named atoma (none, or anyone's).
  it("runs atoma dev's own atoma command when the page knows it, quoted", () => {
    expect(
      verifyCommand(network, "/tmp/n.json", files, undefined, "/home/a b/atoma/packages/cli/bin/atoma.js"),
    ).toBe(
      "node '/home/a b/atoma/packages/cli/bin/atoma.js' verify answer-31337-1a2b3c4d-3-1.json --request request-31337-1a2b3c4d-3-1.json --network /tmp/n.json",
    );
  });

  // Issue 13 review (verify flow, LOW-3): every turn's command named answer.json.
  it("names each answer's files by network, stack and leaf", () => {
    expect(answerFileNames({ stack_id: "12", leaf_index: "0" }, chain)).toEqual({
      answer: "answer-31337-1a2b3c4d-12-0.json",
      request: "request-31337-1a2b3c4d-12-0.json",
    });
  });

  // Stack ids start at 1 on each fresh `atoma dev` chain: a second run's first answer took the first run's file
  // names, so a downloads folder held two answer-1-0.json (the browser saved the second as `answer-1-0 (1).json`
  // while the command named the first run's file).
  it("names the same stack and leaf of two fresh chains apart, and of one chain alike", () => {
    const receipt = { stack_id: 1, leaf_index: 0 };
    const again = { chainId: 31337, genesisHash: `0x9f8e7d6c${"0".repeat(56)}` as const };
    const one = answerFileNames(receipt, chain);
    const other = answerFileNames(receipt, again);
    expect(other.answer).not.toBe(one.answer);
    expect(other.request).not.toBe(one.request);
    expect(answerFileNames(receipt, { ...chain, chainId: 1 }).answer).not.toBe(one.answer);
    expect(answerFileNames({ stack_id: "1", leaf_index: "0" }, chain)).toEqual(one);
  });
});
