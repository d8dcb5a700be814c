import { resolve } from "node:path";
import { devParameters } from "@atoma/chain";
import { HUGGING_FACE_URL } from "@atoma/engine";
import type { Command } from "commander";
import { gatewayHint } from "../dev/gatewayHint.js";
import { networkFilePath, writeNetworkFile } from "../dev/networkFile.js";
import { type ReadyInfo, startDevNetwork } from "../dev/startDevNetwork.js";
import { CliUsageError } from "../errors.js";
import { ServiceStack } from "../lifecycle.js";
import { createCliLogger, type LogFlags, logFormatOption, logLevelOption } from "../logger.js";
import { integerOption, isHttpUrl } from "../options.js";
import { shellWord } from "../shellWord.js";

interface DevFlags extends LogFlags {
  stateDir?: string;
  nodes: number;
  proxy: boolean;
  explorer: boolean;
  model?: string;
  hfEndpoint: string;
  privateSelection?: boolean;
}

function endpointOption(value: string): string {
  if (!isHttpUrl(value)) throw new CliUsageError(`--hf-endpoint must be an http(s) URL, got "${value}"`);
  return value;
}

export function registerDev(program: Command): void {
  program
    .command("dev")
    .description(
      "run the whole local network (chain, contracts, nodes, and the OpenAI-compatible gateway in front of " +
        "them with a demo API key) and print how to use it; the `ready` line's proxyUrl and apiKey serve " +
        "any OpenAI client: baseURL = proxyUrl + /v1",
    )
    .option("--state-dir <dir>", "keep the chain's state here between runs (default: a fresh chain each run)")
    .option(
      "--nodes <n>",
      "execution nodes to run, each at its own price",
      integerOption("--nodes", 0, 32),
      3,
    )
    .option("--no-proxy", "do not start the gateway (proxyUrl and apiKey are then absent)")
    .option("--no-explorer", "do not serve the explorer (explorerUrl is then absent)")
    .option(
      "--model <file|hf:owner/repo/file>",
      "the GGUF model every node serves, under its file name without .gguf (hf: sources are downloaded into " +
        "<state-dir>/models, or the shared model cache, and reused; HF_TOKEN for gated ones); default: the tiny model",
    )
    .option("--hf-endpoint <url>", "where hf: sources are fetched from", endpointOption, HUGGING_FACE_URL)
    .option(
      "--private-selection",
      "attesters and dispute committees select themselves in private by VRF (issue 16, docs/vrf.md) instead of " +
        "a public draw; on a fresh chain, or a --state-dir first deployed with it",
    )
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .action(async (flags: DevFlags) => {
      const logger = createCliLogger(flags.logLevel, flags.logFormat);
      const services = new ServiceStack(logger);
      services.stopOnSignals();
      try {
        const stateDir = flags.stateDir === undefined ? undefined : resolve(flags.stateDir);
        const networkFile = networkFilePath(stateDir, services);
        const ready = await startDevNetwork(
          {
            stateDir,
            networkFile,
            nodes: flags.nodes,
            gateway: flags.proxy,
            explorer: flags.explorer,
            privateSelection: flags.privateSelection === true,
            model:
              flags.model === undefined
                ? undefined
                : {
                    source: flags.model,
                    endpoint: flags.hfEndpoint,
                    token: process.env.HF_TOKEN || undefined,
                  },
          },
          services,
          logger,
        );
        writeNetworkFile(networkFile, ready);
        process.stdout.write(`ready ${JSON.stringify(ready)}\n`);
        logger.info(
          {
            rpcUrl: ready.rpcUrl,
            model: ready.model,
            nodes: ready.nodes.map((node) => node.url),
            proxyUrl: ready.proxyUrl,
            explorerUrl: ready.explorerUrl,
            networkFile,
          },
          "local network ready; press Ctrl-C to stop",
        );
        if (ready.nodes.length > 0) {
          // The verified task sells a stack only when its server, an attester and a committee can be drawn.
          // A sale leaves room for the larger of the stack manager's and the dispute manager's committee minimum.
          const committee = Math.max(devParameters.stack.minCommittee, devParameters.dispute.minCommittee);
          const verifiable = ready.nodes.length >= 2 + committee;
          const task = verifiable ? "" : ` --task ${ready.tasks.chatUnverified}`;
          const why = verifiable
            ? ""
            : `  (${ready.nodes.length} node(s) cannot check one another: this asks the unverified task; ` +
              `run --nodes ${2 + committee} or more for the verified one)\n`;
          process.stderr.write(
            `\nAsk it (the demo user buys a stack, the answer streams, the node's signed receipt is verified):\n` +
              `  ATOMA_PRIVATE_KEY=${ready.user.privateKey} npx atoma chat --network ${shellWord(networkFile)}${task} --save answer.json "Hello"\n` +
              `${why}` +
              `then check the saved answer yourself, against the chain (each check printed; exit 1 names a failed one):\n` +
              `  npx atoma verify answer.json --network ${shellWord(networkFile)}\n\n` +
              proxyHint(ready),
          );
        }
        if (ready.explorerUrl !== undefined)
          process.stderr.write(
            `Watch the network, follow a stack, and chat with every answer verified, in the explorer:\n` +
              `  ${ready.explorerUrl}\n` +
              `(its playground saves each answer as answer-<chain>-<genesis>-<stack>-<leaf>.json and request-….json, beside the\n` +
              `  command that checks them as the page did, to run where the browser saved them: this clone's atoma verify\n` +
              `  answer-….json --request request-….json --network ${shellWord(networkFile)} with the stack owner and\n` +
              `  security level it held the answer to)\n\n`,
          );
      } catch (error) {
        await services.stopAll();
        throw error;
      }
    });
}

/** How to reach the gateway with `curl` and any OpenAI client, when it runs. */
function proxyHint(ready: ReadyInfo): string {
  if (ready.proxyUrl === undefined || ready.apiKey === undefined) return "";
  return gatewayHint({ url: ready.proxyUrl, apiKey: ready.apiKey, model: ready.model });
}
