import {
  configOptions,
  createNode,
  defaultNodeParts,
  ensureConfiguredModel,
  fingerprintOfConfig,
  fingerprintPart,
  printableConfig,
  weightsCheckPart,
} from "@atoma/node";
import { type Command, Option } from "commander";
import { ServiceStack } from "../lifecycle.js";
import { createCliLogger, type LogFlags, logFormatOption, logLevelOption } from "../logger.js";
import { loadConfigFile } from "../nodeConfigFile.js";
import { registerNodeRegistration } from "./nodeRegistration.js";

interface NodeFlags extends LogFlags {
  config?: string;
  reportMismatch?: boolean;
}

const bigintsAsText = (_key: string, value: unknown) =>
  typeof value === "bigint" ? value.toString() : value;

export function registerNode(program: Command): void {
  const node = program.command("node").description("run and manage an execution node");
  const configOption = new Option(
    "-c, --config <file>",
    "node.toml to read (every option can also be set as an ATOMA_NODE_* variable)",
  );

  node
    .command("start")
    .description("start the node; prints `ready {json}` with its URL and address when it serves")
    .addOption(configOption)
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .option(
      "--report-mismatch",
      "when the model file's weights root differs from the on-chain registration, also report it on-chain",
    )
    .action(async (flags: NodeFlags) => {
      const config = loadConfigFile(flags.config);
      const logger = createCliLogger(flags.logLevel, flags.logFormat);
      const services = new ServiceStack(logger);
      services.stopOnSignals();
      const parts = [
        weightsCheckPart({ reportMismatch: flags.reportMismatch }),
        fingerprintPart(),
        ...defaultNodeParts(),
      ];
      // A `model.source` is downloaded (once) and the file checked before anything starts.
      await ensureConfiguredModel(config, { logger, token: process.env.HF_TOKEN || undefined });
      const atomaNode = createNode({ logger, parts }, config);
      await atomaNode.start();
      services.add({ name: "node", stop: () => atomaNode.stop() });
      const ready = {
        url: atomaNode.url,
        address: atomaNode.context.account.address,
        model: config.model.id,
      };
      process.stdout.write(`ready ${JSON.stringify(ready)}\n`);
    });

  node
    .command("config")
    .description("validate the configuration and print it with defaults applied and secrets hidden")
    .addOption(configOption)
    .option("--env", "list the environment variable of every option instead")
    .action((flags: { config?: string; env?: boolean }) => {
      if (flags.env) {
        for (const option of configOptions()) process.stdout.write(`${option.env}\t${option.path}\n`);
        return;
      }
      const config = loadConfigFile(flags.config);
      process.stdout.write(`${JSON.stringify(printableConfig(config), bigintsAsText, 2)}\n`);
    });

  node
    .command("fingerprint")
    .description(
      "compute the engine fingerprint this node's configuration gives (the value an echelon is approved with); " +
        "prints it on stdout, what it was computed with on stderr",
    )
    .addOption(configOption)
    .option("--json", "print the whole result (settings, numerics, backend) as JSON instead")
    .action(async (flags: { config?: string; json?: boolean }) => {
      const config = loadConfigFile(flags.config);
      const result = await fingerprintOfConfig(config);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return;
      }
      const { contextSize, batchSize, threads, flashAttention } = result.settings;
      process.stderr.write(
        `probe v${result.probeVersion}: contextSize ${contextSize}, batchSize ${batchSize}, threads ${threads}, ` +
          `flashAttention ${flashAttention}; llama.cpp ${result.backend.llamaCppRelease}, ` +
          `${result.backend.gpu === false ? "CPU" : result.backend.gpu} (${result.backend.systemInfo}); ${result.ms} ms\n`,
      );
      process.stdout.write(`${result.fingerprint}\n`);
    });

  registerNodeRegistration(node);
}
