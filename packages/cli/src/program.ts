import { Command } from "commander";
import { registerDev } from "./commands/dev.js";
import { registerModel } from "./commands/model.js";

export function createProgram(): Command {
  const program = new Command("atoma")
    .description("Atoma Network: verifiable AI inference on staked nodes")
    .version("0.1.0")
    .showHelpAfterError()
    .exitOverride();
  registerDev(program);
  registerModel(program);
  return program;
}
