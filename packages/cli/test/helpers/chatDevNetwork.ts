import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setNodeUrl } from "@atoma/chain";
import { parseNetwork, readContext, userContext } from "@atoma/sdk";
import { generatePrivateKey } from "viem/accounts";
import { afterAll, beforeAll, expect } from "vitest";
import { devNodeKey, fundedFreshBuyer } from "../../../sdk/test/devActors.js";
import { type DevNetwork, startDevNetwork } from "../../../sdk/test/devNetwork.js";
import { type Relay, startRelay } from "../../../sdk/test/relay.js";
import { stackHome } from "../../src/chat/receiptStore.js";
import { runCliToEnd } from "../cliProcess.js";

/** A dev network for `atoma chat` runs, with the files the runs share. */
export interface ChatDevNetwork {
  dev: DevNetwork;
  /** The network file (`--network`): the dev network's ready line. */
  network: string;
  /** Where every run keeps its receipts (`ATOMA_RECEIPTS`), and so its pending requests and nodes put aside. */
  receipts: string;
  /** The folder of the key files. */
  dir: string;
}

/**
 * Starts `atoma dev --nodes 3` before the tests of the calling `describe` (its runs keep their receipts in a folder
 * of its own) and ends it after them; the returned object is filled in once it is ready.
 */
export function chatDevNetwork(prefix: string): ChatDevNetwork {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const chat = { network: join(dir, "network.json"), receipts: join(dir, "receipts"), dir } as ChatDevNetwork;
  beforeAll(async () => {
    process.env.ATOMA_RECEIPTS = chat.receipts;
    chat.dev = await startDevNetwork(3);
    writeFileSync(chat.network, chat.dev.readyText);
  }, 300_000);
  afterAll(async () => {
    delete process.env.ATOMA_RECEIPTS;
    await chat.dev?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);
  return chat;
}

/** A key file of a fresh owner (no stack yet), funded with gas and TOMA by a dev account. */
export async function freshOwnerKeyFile(chat: ChatDevNetwork, name: string): Promise<string> {
  const key = generatePrivateKey();
  await fundedFreshBuyer(chat.dev, key);
  const file = join(chat.dir, `${name}.key`);
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return file;
}

/** `atoma chat` of `prompt` as the owner of `keyFile`, run to its end. */
export const chatAs = (chat: ChatDevNetwork, keyFile: string, prompt: string) =>
  runCliToEnd(["chat", "--network", chat.network, "--key-file", keyFile, prompt]);

/** The `receipt {json}` line `atoma chat` prints on stderr. */
export function receiptOf(stderr: string): {
  nodeId: string;
  stackId: string;
  leafIndex: string;
  bought: boolean;
} {
  const line = stderr.split("\n").find((l) => l.startsWith("receipt "));
  if (!line) throw new Error(`no receipt line in:\n${stderr}`);
  return JSON.parse(line.slice("receipt ".length));
}

/** Where `atoma chat` keeps this chain's files below the receipts folder. */
export const chatStackHome = (chat: ChatDevNetwork) =>
  stackHome(
    readContext(parseNetwork(chat.dev.readyText)).publicClient,
    chat.dev.ready.contracts.StackManager!,
  );

/**
 * Points node `nodeId`'s registered URL at a real HTTP relay in front of it for `run` (given the relay and the
 * node's index), then back.
 */
export async function behindRelay<T>(
  chat: ChatDevNetwork,
  nodeId: string,
  run: (relay: Relay, k: number) => Promise<T>,
): Promise<T> {
  const { ready, readyText } = chat.dev;
  const k = ready.nodes.findIndex((n) => n.id === nodeId);
  const relay = await startRelay(ready.nodes[k]!.url);
  const operator = userContext(parseNetwork(readyText), devNodeKey(chat.dev, k));
  await setNodeUrl(operator, { nodeId: BigInt(nodeId), url: relay.url });
  try {
    return await run(relay, k);
  } finally {
    await setNodeUrl(operator, { nodeId: BigInt(nodeId), url: ready.nodes[k]!.url });
    await relay.close();
  }
}

/** What a fresh owner's first chat left: its key file, and the node and stack that served it. */
export interface FirstChat {
  keyFile: string;
  nodeId: string;
  stackId: string;
}

/**
 * A fresh owner's first `atoma chat` ("Hello", which must succeed), then `run` with the node that served it behind a
 * relay (`behindRelay`).
 */
export async function afterFirstChatBehindRelay<T>(
  chat: ChatDevNetwork,
  owner: string,
  run: (relay: Relay, first: FirstChat & { k: number }) => Promise<T>,
): Promise<T> {
  const keyFile = await freshOwnerKeyFile(chat, owner);
  const first = await chatAs(chat, keyFile, "Hello");
  expect(first.code, first.stderr).toBe(0);
  const { nodeId, stackId } = receiptOf(first.stderr);
  return behindRelay(chat, nodeId, (relay, k) => run(relay, { keyFile, nodeId, stackId, k }));
}
