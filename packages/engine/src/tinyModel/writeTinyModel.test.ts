import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidInputError } from "@atoma/core";
import { readGgufFileInfo, type Token } from "node-llama-cpp";
import { keccak256 } from "viem";
import { afterAll, describe, expect, it } from "vitest";
import { testLlama } from "../../test/helpers/llama.js";
import { TINY_CHAT_TEMPLATE } from "./chatTemplate.js";
import { ensureTinyModel, tinyModelId } from "./tinyModelCache.js";
import { DEFAULT_TINY_SHAPE, writeTinyModel } from "./writeTinyModel.js";

const dir = mkdtempSync(join(tmpdir(), "atoma-tiny-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("writeTinyModel", () => {
  it("writes the same bytes for the same seed and shape, and other bytes for another seed", () => {
    const a = writeTinyModel({ seed: 7 });
    const b = writeTinyModel({ seed: 7 });
    const c = writeTinyModel({ seed: 8 });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(a.length).toBe(c.length);
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(false);
    expect(Buffer.from(a.subarray(0, 4)).toString("latin1")).toBe("GGUF");
  });

  it("is pinned: the default model's bytes never change without a writer version bump", () => {
    expect(keccak256(writeTinyModel())).toBe(
      "0x0463aff52e3650a2e4277a6ee5033b0f32b2ad2c0bd1ee72e6372615e67e3d08",
    );
  });

  it("declares a Llama architecture, the shape, a byte-fallback vocabulary and a chat template", async () => {
    const file = ensureTinyModel({ seed: 3, dir });
    const info = await readGgufFileInfo(file.path, { readTensorInfo: true });
    const metadata = info.metadata as unknown as Record<string, Record<string, unknown>>;
    expect(metadata.general?.architecture).toBe("llama");
    expect(metadata.llama?.block_count).toBe(DEFAULT_TINY_SHAPE.layers);
    expect(metadata.llama?.embedding_length).toBe(DEFAULT_TINY_SHAPE.width);
    const tokenizer = metadata.tokenizer as {
      ggml: { tokens: string[]; model: string };
      chat_template: string;
    };
    expect(tokenizer.ggml.model).toBe("llama");
    expect(tokenizer.ggml.tokens).toContain("<0x0A>");
    expect(tokenizer.ggml.tokens).toContain("<|im_end|>");
    expect(tokenizer.chat_template).toBe(TINY_CHAT_TEMPLATE);
    expect(info.tensorInfo?.length).toBe(3 + 9 * DEFAULT_TINY_SHAPE.layers);
  });

  it("loads in llama.cpp and tokenizes text, bytes and control tokens", async () => {
    const llama = await testLlama();
    const model = await llama.loadModel({ modelPath: ensureTinyModel({ dir }).path });
    try {
      const text = "Hi there,\nwörld";
      const tokens = model.tokenize(text);
      expect(tokens.length).toBe([...text].length + 1); // ö is two byte-fallback tokens
      expect(model.detokenize(tokens)).toBe(text);
      expect(model.tokenize("<|im_start|>user", true)[0]).toBe(3);
      expect(model.isEogToken(model.tokens.eos!)).toBe(true);
      expect(model.isEogToken(4 as Token)).toBe(true); // <|im_end|>
    } finally {
      await model.dispose();
    }
  });

  it("rejects impossible shapes and seeds with a named error", () => {
    expect(() => writeTinyModel({ shape: { width: 30, heads: 4 } })).toThrow(InvalidInputError);
    expect(() => writeTinyModel({ shape: { heads: 4, kvHeads: 3 } })).toThrow(InvalidInputError);
    expect(() => writeTinyModel({ shape: { layers: 0 } })).toThrow(InvalidInputError);
    expect(() => writeTinyModel({ seed: -1 })).toThrow(InvalidInputError);
    expect(() => writeTinyModel({ seed: 2 ** 32 })).toThrow(InvalidInputError);
  });
});

describe("ensureTinyModel", () => {
  it("writes once and reuses the file named by its content hash", () => {
    const first = ensureTinyModel({ seed: 5, dir });
    const mtime = statSync(first.path).mtimeMs;
    const second = ensureTinyModel({ seed: 5, dir });
    expect(second).toEqual(first);
    expect(statSync(second.path).mtimeMs).toBe(mtime);
    expect(keccak256(readFileSync(first.path))).toBe(first.contentHash);
    expect(first.path).toContain(first.contentHash.slice(2, 18));
  });

  it("names models by seed and shape", () => {
    expect(tinyModelId()).toBe("atoma-tiny");
    expect(tinyModelId({ seed: 2 })).toBe("atoma-tiny-s2");
    expect(tinyModelId({ seed: 1, shape: { layers: 4, width: 128 } })).toBe(
      "atoma-tiny-s1-l4w128h4kv2ff192c4096",
    );
  });
});
