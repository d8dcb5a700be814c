#!/usr/bin/env node
import { CommanderError } from "commander";
import { oneLineMessage } from "./errors.js";
import { createProgram } from "./program.js";

try {
  await createProgram().parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode;
  } else {
    process.stderr.write(`atoma: ${oneLineMessage(error)}\n`);
    process.exitCode = 1;
  }
}
