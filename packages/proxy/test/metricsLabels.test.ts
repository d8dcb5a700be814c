import { NodeRequestError } from "@atoma/sdk";
import { beforeAll, describe, expect, it } from "vitest";
import { testDatabases } from "./helpers/testDatabases.js";
import { chat, suiteGateway } from "./helpers/testGateway.js";

const embedded = testDatabases()[0]!;

// Attack: a node answers each request 400 with a fresh, long `error.code`. The gateway relays the code
// to the client and uses it as a Prometheus label (requests{outcome}, and node_errors{code} in NetworkUpstream):
// every request adds a new series that is never freed, so a node (or a user routing to a colluding node with
// provider.only) grows the gateway's memory and its /metrics page without bound.
describe("node-chosen error codes as metric labels", () => {
  const gw = suiteGateway(embedded.make);
  let key: string;

  beforeAll(async () => {
    key = (await gw.keys.create({ name: "labels", budget: "1" })).key;
  });

  it("keeps the metrics bounded whatever codes a node refuses with", async () => {
    const size = async () => (await (await gw.app.request("/metrics")).text()).length;
    const before = await size();
    for (let i = 0; i < 200; i++) {
      const code = `c${i}_${"x".repeat(8_000)}`;
      gw.upstream.behaviour = () => ({
        fail: new NodeRequestError(400, { message: "no", type: "x", code: code as never }),
      });
      const response = await chat(gw.app, key);
      expect(response.status).toBe(400);
    }
    const after = await size();
    // Unbounded, each of the 200 would leave an 8 KB label behind (1.6 MB of /metrics and of the registry).
    expect(after - before).toBeLessThan(100_000);
  }, 60_000);
});
