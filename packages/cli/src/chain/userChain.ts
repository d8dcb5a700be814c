import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { AtomaError, privateKeyAccount } from "@atoma/core";
import { loadKeyFile } from "@atoma/node";
import { type Network, NetworkDescriptionError, parseNetwork } from "@atoma/sdk";
import type { LocalAccount } from "viem";
import { CliUsageError } from "../errors.js";

/** Reads and checks a network file (`--network`, or the ATOMA_NETWORK variable). */
export function loadNetwork(file: string | undefined): Network {
  const path = file ?? process.env.ATOMA_NETWORK;
  if (!path) throw new CliUsageError("give --network <file> (the JSON atoma dev prints after `ready `)");
  let text: string;
  try {
    text = readFileSync(resolve(path), "utf8");
  } catch {
    throw new CliUsageError(`the network file ${path} cannot be read`);
  }
  try {
    return parseNetwork(text, `the network file ${path}`);
  } catch (error) {
    if (error instanceof NetworkDescriptionError) throw new CliUsageError(error.shortMessage);
    throw error;
  }
}

/** The buyer's key: `--key-file` (mode 0600), else the ATOMA_PRIVATE_KEY variable. Never echoed. */
export function loadUserAccount(keyFile: string | undefined): LocalAccount {
  if (keyFile !== undefined) {
    try {
      return loadKeyFile(resolve(keyFile));
    } catch (error) {
      if (error instanceof AtomaError && error.code.startsWith("key_file"))
        throw new CliUsageError(error.shortMessage.replace("(node.keyFile)", "(--key-file)"));
      throw error;
    }
  }
  const key = process.env.ATOMA_PRIVATE_KEY?.trim();
  if (!key) throw new CliUsageError("give --key-file <file> or set ATOMA_PRIVATE_KEY");
  const hex = key.startsWith("0x") ? key : `0x${key}`;
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex))
    throw new CliUsageError("ATOMA_PRIVATE_KEY is not a 32-byte hex private key");
  return privateKeyAccount(hex as `0x${string}`);
}

export { type Network, readContext, userContext } from "@atoma/sdk";
