import { getLlama, type Llama, LlamaLogLevel } from "node-llama-cpp";

let shared: Promise<Llama> | undefined;

/** One CPU llama.cpp binding per test file (loading it is the slow part). */
export function testLlama(): Promise<Llama> {
  shared ??= getLlama({ gpu: false, build: "never", skipDownload: true, logLevel: LlamaLogLevel.error });
  return shared;
}
