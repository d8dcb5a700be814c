import type { Network, Verdict } from "@atoma/sdk";
import type { Hex } from "viem";

/** The names the playground gives one answer's files when it saves them: one pair per stack and leaf. */
export interface AnswerFileNames {
  answer: string;
  request: string;
}

/** The chain an answer came from, told apart from every other: its id and its genesis block's hash. */
export interface AnswerChain {
  chainId: number;
  genesisHash: Hex;
}

/**
 * `answer-<chain>-<genesis>-<stack>-<leaf>.json` and `request-…`: each turn's pair has names of its own, so a browser
 * never saves a later turn's as `answer (1).json` while its command names the first turn's. Stack ids start at 1
 * on every fresh `atoma dev` chain, so the chain id and the first 4 bytes of its genesis hash (a fresh anvil's
 * genesis holds the time it started) keep two runs' answers apart in one downloads folder.
 */
export function answerFileNames(
  receipt: { stack_id: string | number; leaf_index: string | number },
  chain: AnswerChain,
): AnswerFileNames {
  const network = `${chain.chainId}-${chain.genesisHash.slice(2, 10).toLowerCase()}`;
  const tail = `${network}-${String(receipt.stack_id)}-${String(receipt.leaf_index)}.json`;
  return { answer: `answer-${tail}`, request: `request-${tail}` };
}

/** A shell word: left bare when it is plain, else single-quoted. */
const word = (value: string) =>
  /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;

/**
 * The command that checks a saved answer as the page did, with nothing else to read: against the network file
 * `atoma dev` wrote (its served description names it), else the chain's RPC URL and StackManager, which any
 * description holds; and against what the page's verdict was asked to hold the answer to (`verdict.asked`: the
 * stack, the owner — the gateway's wallet or the dev account — and the lowest security level), which
 * `atoma verify` does not check unless named. Run where the two files were saved, with the `atoma` command of the
 * clone `atoma dev` runs from (`cliPath`), or else `npx atoma` in a clone of this repository.
 */
export function verifyCommand(
  network: Network,
  networkFile: string | undefined,
  files: AnswerFileNames,
  asked: Verdict["asked"],
  cliPath?: string | undefined,
): string {
  const where =
    networkFile === undefined
      ? ["--network", word(network.rpcUrl), "--stack-manager", network.contracts.StackManager]
      : ["--network", word(networkFile)];
  const held = [
    ...(asked?.stackId !== undefined ? ["--stack", word(asked.stackId)] : []),
    ...(asked?.owner !== undefined ? ["--owner", word(asked.owner)] : []),
    ...(asked?.securityLevel !== undefined ? ["--security-level", String(asked.securityLevel)] : []),
  ];
  // `atoma dev`'s own command when the page knows it: `npx atoma` outside the clone would ask npm for a package.
  const atoma = cliPath === undefined ? "npx atoma" : `node ${word(cliPath)}`;
  return [`${atoma} verify`, word(files.answer), "--request", word(files.request), ...where, ...held].join(
    " ",
  );
}

/** A body as a file the CLI reads: pretty JSON, one trailing newline. */
export const jsonFile = (body: unknown) => `${JSON.stringify(body, null, 2)}\n`;

/** A `data:` URL of the file, for a link that downloads it (nothing kept alive, unlike an object URL). */
export const jsonDataUrl = (body: unknown) =>
  `data:application/json;charset=utf-8,${encodeURIComponent(jsonFile(body))}`;
