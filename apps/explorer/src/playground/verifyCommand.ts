import type { Network } from "@atoma/sdk";

/** The names the playground gives an answer's files when it saves them. */
export const ANSWER_FILE = "answer.json";
export const REQUEST_FILE = "request.json";

/** A shell word: left bare when it is plain, else single-quoted. */
const word = (value: string) =>
  /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;

/**
 * The command that checks a saved answer as the page did, with nothing else to read: against the network file
 * `atoma dev` wrote (its served description names it), else the chain's RPC URL and StackManager, which any
 * description holds.
 */
export function verifyCommand(network: Network, networkFile: string | undefined): string {
  const where =
    networkFile === undefined
      ? `--network ${word(network.rpcUrl)} --stack-manager ${network.contracts.StackManager}`
      : `--network ${word(networkFile)}`;
  return `npx atoma verify ${ANSWER_FILE} --request ${REQUEST_FILE} ${where}`;
}

/** A body as a file the CLI reads: pretty JSON, one trailing newline. */
export const jsonFile = (body: unknown) => `${JSON.stringify(body, null, 2)}\n`;

/** A `data:` URL of the file, for a link that downloads it (nothing kept alive, unlike an object URL). */
export const jsonDataUrl = (body: unknown) =>
  `data:application/json;charset=utf-8,${encodeURIComponent(jsonFile(body))}`;
