import type { Logger } from "@atoma/core";
import { pino } from "pino";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

/** Structured logs on stderr, so stdout carries only what a command prints for machines (the ready line). */
export function createCliLogger(level: LogLevel = "info"): Logger {
  return pino({ level, base: null }, pino.destination({ fd: 2, sync: true }));
}
