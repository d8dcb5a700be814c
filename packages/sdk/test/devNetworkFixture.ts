import { afterAll, beforeAll } from "vitest";
import { type DevNetwork, startDevNetwork } from "./devNetwork.js";

/**
 * A dev network of `nodes` nodes for the tests of the calling `describe`: started before them (`startDevNetwork`),
 * stopped after them. What it returns reads the network once started (before that, a read throws).
 */
export function devNetworkFixture(nodes: number): DevNetwork {
  let started: DevNetwork | undefined;
  beforeAll(async () => {
    started = await startDevNetwork(nodes);
  }, 300_000);
  afterAll(async () => {
    await started?.stop();
  }, 60_000);
  const dev = () => {
    if (started === undefined) throw new Error("the dev network is not started");
    return started;
  };
  return {
    get ready() {
      return dev().ready;
    },
    get readyText() {
      return dev().readyText;
    },
    get stateDir() {
      return dev().stateDir;
    },
    stop: () => dev().stop(),
  };
}
