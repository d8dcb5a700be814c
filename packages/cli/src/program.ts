import { Command } from "commander";
import { registerAttest } from "./commands/attest.js";
import { registerChat } from "./commands/chat.js";
import { registerDev } from "./commands/dev.js";
import { registerEcon } from "./commands/econ.js";
import { registerModel } from "./commands/model.js";
import { registerNode } from "./commands/node.js";
import { registerProxy } from "./commands/proxy.js";
import { registerStack } from "./commands/stack.js";
import { registerVerify } from "./commands/verify.js";

export function createProgram(): Command {
  const program = new Command("atoma")
    .description("Atoma Network: verifiable AI inference on staked nodes")
    .version("0.1.0")
    // A subcommand's options belong to it even when a parent has one of the same name (econ and econ simulate).
    .enablePositionalOptions()
    .exitOverride();
  registerAttest(program);
  registerChat(program);
  registerDev(program);
  registerEcon(program);
  registerModel(program);
  registerNode(program);
  registerProxy(program);
  registerStack(program);
  registerVerify(program);
  return program;
}
