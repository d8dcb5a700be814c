import { existsSync, statSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Hash } from "@atoma/core";
import {
  type DownloadProgress,
  ensureTinyModel,
  HUGGING_FACE_URL,
  pullModel,
  type TinyChatTemplate,
  weightsRoot,
  writeTinyModel,
} from "@atoma/engine";
import type { Command } from "commander";
import { CliUsageError } from "../errors.js";
import { integerOption, isHttpUrl } from "../options.js";

function existingFile(path: string): string {
  const full = resolve(path);
  if (!existsSync(full) || !statSync(full).isFile()) throw new CliUsageError(`no such file: ${path}`);
  return full;
}

function rootOption(value: string): Hash {
  if (!/^0x[0-9a-fA-F]{64}$/.test(value))
    throw new CliUsageError(`--expect-root must be 32 bytes of hex, got "${value}"`);
  return value as Hash;
}

function templateOption(value: string): TinyChatTemplate {
  if (value !== "chatml" && value !== "llama3" && value !== "mistral")
    throw new CliUsageError(`--template must be chatml, llama3 or mistral, got "${value}"`);
  return value;
}

function urlOption(value: string): string {
  if (!isHttpUrl(value)) throw new CliUsageError(`--endpoint must be an http(s) URL, got "${value}"`);
  return value;
}

/** A one-line progress bar on stderr, redrawn at most ten times a second. */
function progressBar(label: string) {
  let lastDraw = 0;
  let startedAt = 0;
  let startBytes = 0;
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  return {
    update({ received, total }: DownloadProgress, force = false) {
      const now = performance.now();
      if (startedAt === 0) {
        startedAt = now;
        startBytes = received;
      }
      if (!force && now - lastDraw < 100) return;
      lastDraw = now;
      const rate = (received - startBytes) / Math.max(0.001, (now - startedAt) / 1000);
      const share = total ? received / total : 0;
      const width = 30;
      const filled = Math.round(share * width);
      const bar = total
        ? `[${"=".repeat(filled)}${" ".repeat(width - filled)}] ${(share * 100).toFixed(0)}% `
        : "";
      process.stderr.write(
        `\r${label} ${bar}${mb(received)}${total ? `/${mb(total)}` : ""} MB ${mb(rate)} MB/s`,
      );
    },
    done() {
      if (startedAt !== 0) process.stderr.write("\n");
    },
  };
}

export function registerModel(program: Command): void {
  const model = program.command("model").description("model files: weights roots, downloads, the tiny model");

  model
    .command("root <file>")
    .description(
      "print the Merkle root of a model file's 1 MiB chunks (the value it is registered with on-chain)",
    )
    .action(async (file: string) => {
      process.stdout.write(`${await weightsRoot(existingFile(file))}\n`);
    });

  model
    .command("pull <source>")
    .description("download hf:<owner>/<repo>/<file> with a progress bar; an interrupted download resumes")
    .option("--to <dir>", "directory to write the file into", "models")
    .option("--endpoint <url>", "where hf: sources are fetched from", urlOption, HUGGING_FACE_URL)
    .option("--expect-root <hash>", "refuse the file unless its weights root is this", rootOption)
    .action(async (source: string, flags: { to: string; endpoint: string; expectRoot?: Hash }) => {
      const bar = progressBar(source.slice(source.lastIndexOf("/") + 1));
      try {
        const pulled = await pullModel(source, {
          to: resolve(flags.to),
          baseUrl: flags.endpoint,
          token: process.env.HF_TOKEN || undefined,
          expectedRoot: flags.expectRoot,
          onProgress: (progress) => bar.update(progress, progress.received === progress.total),
        });
        bar.done();
        if (!pulled.downloaded) process.stderr.write(`already downloaded: ${pulled.path}\n`);
        process.stdout.write(`${pulled.path}\n`);
      } catch (error) {
        bar.done();
        throw error;
      }
    });

  model
    .command("write-tiny")
    .description("write the project's tiny Llama GGUF (seeded weights; the same bytes for the same seed)")
    .option("--seed <n>", "weights seed", integerOption("--seed", 0, 0xffff_ffff), 1)
    .option("--out <file>", "write here (default: the shared model cache, reused when already there)")
    .option(
      "--template <name>",
      "chat template: chatml, llama3 or mistral (Llama-3.1- and Mistral-v3-style: they render tools, and calls " +
        "are written in their formats)",
      templateOption,
      "chatml",
    )
    .action((flags: { seed: number; out?: string; template: TinyChatTemplate }) => {
      const options = { seed: flags.seed, template: flags.template };
      if (flags.out === undefined) {
        process.stdout.write(`${ensureTinyModel(options).path}\n`);
        return;
      }
      const out = resolve(flags.out);
      writeFileSync(out, writeTinyModel(options));
      process.stdout.write(`${out}\n`);
    });
}
