import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AtomaAddresses } from "@atoma/chain";
import { afterAll, describe, expect, it } from "vitest";
import { saveDeployment, savedDeployment } from "../src/dev/devDeployment.js";

const addresses = {
  AtomaToken: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  TaskRegistry: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
} as unknown as AtomaAddresses;

/**
 * `atoma dev --state-dir` keeps its deployment: the block it was deployed from is kept beside the addresses, so that
 * a network restarted from the same state still names it in its ready line (clients read logs from it, not block 0).
 */
describe("the dev deployment kept in a state directory", () => {
  const dir = mkdtempSync(join(tmpdir(), "atoma-cli-deployment-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps the deployment block beside the addresses, and reads it back apart from them", () => {
    saveDeployment(dir, addresses, 42n);
    expect(JSON.parse(readFileSync(join(dir, "deployment.json"), "utf8")).deploymentBlock).toBe(42);
    // The addresses alone go to the code check (a block number there would be taken for an address).
    expect(savedDeployment(dir)).toEqual({ addresses, deploymentBlock: 42n });
  });

  it("reads a file saved before the block was, or with a block that is no whole number, as no block", () => {
    writeFileSync(join(dir, "deployment.json"), JSON.stringify(addresses));
    expect(savedDeployment(dir)).toEqual({ addresses, deploymentBlock: undefined });
    writeFileSync(join(dir, "deployment.json"), JSON.stringify({ ...addresses, deploymentBlock: -3 }));
    expect(savedDeployment(dir)).toEqual({ addresses, deploymentBlock: undefined });
    expect(savedDeployment(undefined)).toBeUndefined();
  });
});
