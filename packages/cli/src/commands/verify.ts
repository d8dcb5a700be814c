import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { VerifyArgumentError, verifyResponse } from "@atoma/sdk";
import type { Command } from "commander";
import { loadVerifyChain } from "../chain/verifyNetwork.js";
import { CliUsageError } from "../errors.js";
import { printJson } from "../nodeConfigFile.js";
import { verdictText } from "./verdictText.js";

/** A saved response, or a request, is far below this; anything larger is not one. */
const MAX_JSON_BYTES = 16 * 1024 * 1024;

interface VerifyFlags {
  network?: string;
  stackManager?: string;
  request?: string;
  stack?: string;
  owner?: string;
  securityLevel?: number;
  json?: boolean;
}

/** Reads JSON from a file, or stdin for `-`; one-line usage errors otherwise. */
function readJsonInput(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path === "-" ? 0 : resolve(path), "utf8");
  } catch {
    throw new CliUsageError(`the ${what} ${path} cannot be read`);
  }
  if (text.length > MAX_JSON_BYTES)
    throw new CliUsageError(`the ${what} is larger than ${MAX_JSON_BYTES} bytes`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CliUsageError(`the ${what} ${path === "-" ? "on stdin" : path} is not JSON`);
  }
}

function securityLevelOption(value: string): number {
  if (!/^[0-3]$/.test(value)) throw new CliUsageError("--security-level must be 0, 1, 2 or 3");
  return Number(value);
}

/**
 * `atoma verify <response.json | ->`: checks an answer as an OpenAI client received it (with its atoma object)
 * against the chain, prints each check, exits 0 when none fails (some may wait for the settlement), 1 otherwise.
 */
export function registerVerify(program: Command): void {
  program
    .command("verify <response>")
    .description(
      "check an answer (a JSON file as an OpenAI client received it, with its atoma object, or - for stdin) against the chain: " +
        "signature, registered signer, stack, hashes, and once settled the inclusion proof and settlement state; exits 1 when a check fails",
    )
    .option(
      "--network <network>",
      "a network file, atoma dev's `ready {json}` line, or an RPC URL with --stack-manager (or ATOMA_NETWORK)",
    )
    .option(
      "--stack-manager <address>",
      "the StackManager, when --network is an RPC URL (or ATOMA_STACK_MANAGER)",
    )
    .option("--request <file>", "the request body as sent, to check the request hash too (else: not checked)")
    .option("--stack <id>", "the stack the answer must be for")
    .option("--owner <address>", "the stack owner the answer must be for")
    .option(
      "--security-level <level>",
      "the lowest security level the stack may have been bought at (0 none, 1 cross-validation, 2 consensus)",
      securityLevelOption,
    )
    .option("--json", "print the verdict as one JSON object")
    .action(async (path: string, flags: VerifyFlags) => {
      const response = readJsonInput(path, "response");
      const request = flags.request === undefined ? undefined : readJsonInput(flags.request, "request");
      const chain = await loadVerifyChain(flags.network, flags.stackManager);
      let verdict: Awaited<ReturnType<typeof verifyResponse>>;
      try {
        verdict = await verifyResponse(response, {
          chain,
          ...(request === undefined ? {} : { request }),
          stackId: flags.stack,
          owner: flags.owner,
          securityLevel: flags.securityLevel,
        });
      } catch (error) {
        if (error instanceof VerifyArgumentError) throw new CliUsageError(error.shortMessage);
        throw error;
      }
      if (flags.json) printJson(verdict);
      else process.stdout.write(verdictText(verdict));
      if (!verdict.ok) process.exitCode = 1;
    });
}
