import type { HexString } from "@atoma/confidential";
import { parseNodeConfig } from "../../src/config/loadConfig.js";

/** A node signing address for confidential tests that need no chain. */
export const NODE = "0x5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a" as const;
const reg = (byte: string) => `0x${byte.repeat(48)}` as HexString;
/** The measurements a dev key file claims, and the allow-list entry that takes them. */
export const MEASURED = {
  mrTd: reg("a1"),
  rtmr0: reg("b0"),
  rtmr1: reg("b1"),
  rtmr2: reg("b2"),
  rtmr3: reg("b3"),
};

/** A minimal node.toml (as parsed) with the given `[confidential]` table, paths relative to `dir`. */
export const configWith = (confidential: Record<string, unknown>, dir: string) =>
  parseNodeConfig(
    {
      chain: { rpcUrl: "http://127.0.0.1:8545", chainId: 31337 },
      node: { keyFile: "node.key" },
      model: { path: "tiny.gguf" },
      confidential,
    },
    dir,
  );
