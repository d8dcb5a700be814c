import type { Logger } from "@atoma/core";
import { Option } from "commander";
import { pino } from "pino";
import { PinoPretty } from "pino-pretty";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
export type LogFormat = "pretty" | "json";

export interface LogFlags {
  logLevel: LogLevel;
  logFormat?: LogFormat;
}

export function logLevelOption(): Option {
  return new Option("--log-level <level>", "how much to log on stderr")
    .choices(["debug", "info", "warn", "error", "silent"])
    .default("info");
}

export function logFormatOption(): Option {
  return new Option(
    "--log-format <format>",
    "stderr logs: one short line per event, or JSON lines (default: pretty on a terminal, JSON otherwise)",
  ).choices(["pretty", "json"]);
}

/**
 * Logs on stderr, so stdout carries only what a command prints for machines (the ready line): one short line per
 * event for a person at a terminal, JSON lines for a machine (when stderr is not a terminal, or when asked).
 */
export function createCliLogger(level: LogLevel = "info", format?: LogFormat): Logger {
  const chosen = format ?? (process.stderr.isTTY ? "pretty" : "json");
  if (chosen === "json") return pino({ level, base: null }, pino.destination({ fd: 2, sync: true }));
  const pretty = PinoPretty({
    destination: 2,
    sync: true,
    colorize: process.stderr.isTTY === true,
    singleLine: true,
    translateTime: "SYS:HH:MM:ss",
    ignore: "node,module",
    messageFormat: "{if node}node {node} {end}{if module}{module}: {end}{msg}",
  });
  return pino({ level, base: null }, pretty);
}
