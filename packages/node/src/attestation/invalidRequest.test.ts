import { modelIdOf } from "@atoma/chain";
import { hashCanonical } from "@atoma/core";
import { ContextLengthExceededError, ModelNotFoundError } from "@atoma/engine";
import { describe, expect, it } from "vitest";
import { engineRefused, INVALID_REQUEST_HASH, invalidForTask } from "./invalidRequest.js";

const task = modelIdOf("atoma-tiny");
const chat = { model: "atoma-tiny", messages: [{ role: "user", content: "hi" }] };

describe("invalid requests", () => {
  it("hashes the fixed result of docs/soundness.md", () => {
    expect(INVALID_REQUEST_HASH).toBe(hashCanonical({ object: "atoma.invalid_request" }));
  });

  it("judges a body against the task's model and the request kinds", () => {
    expect(invalidForTask(chat, task)).toBeUndefined();
    expect(invalidForTask({ model: "atoma-tiny", prompt: "x" }, task)).toBeUndefined();
    expect(invalidForTask({ model: "atoma-tiny", input: ["x"] }, task)).toBeUndefined();
    expect(invalidForTask({ ...chat, model: "a-model-only-the-server-serves" }, task)).toMatch(
      /another model/,
    );
    expect(invalidForTask({ model: "atoma-tiny", tools: [] }, task)).toMatch(/not a chat/);
    expect(invalidForTask({ messages: [] }, task)).toMatch(/names no model/);
    expect(invalidForTask(undefined, task)).toMatch(/not a JSON object/);
    expect(invalidForTask([chat], task)).toMatch(/not a JSON object/);
  });

  it("takes the engine's refusals of the request for invalid, not its other failures", () => {
    expect(engineRefused(new ContextLengthExceededError(600, 10, 512))).toBe(true);
    // A model the engine does not serve under that name is the attester's own misconfiguration: retried.
    expect(engineRefused(new ModelNotFoundError("atoma-tiny"))).toBe(false);
    expect(engineRefused(new Error("socket hang up"))).toBe(false);
  });
});
