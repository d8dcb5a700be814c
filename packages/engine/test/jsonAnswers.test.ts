import { responseHash } from "@atoma/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddedEngine } from "../src/embedded/EmbeddedEngine.js";
import { InvalidRequestError } from "../src/errors.js";
import { chatBody, startTinyEngine } from "./helpers/tinyEngine.js";
import { toolChat, validates, WEATHER } from "./helpers/toolRequests.js";

let engine: EmbeddedEngine;
beforeAll(async () => {
  engine = await startTinyEngine({ contextSize: 2048 });
});
afterAll(() => engine.stop());

/** Nested objects, arrays, enums, alternatives, nullable types, references and bounds. */
const ORDER = {
  $defs: {
    item: {
      type: "object",
      properties: {
        sku: { type: "string", minLength: 2, maxLength: 6 },
        quantity: { type: "integer" },
        gift: { type: "boolean" },
      },
      required: ["sku", "quantity", "gift"],
      additionalProperties: false,
    },
  },
  type: "object",
  properties: {
    status: { enum: ["open", "paid", "shipped"] },
    items: { type: "array", items: { $ref: "#/$defs/item" }, minItems: 1, maxItems: 2 },
    note: { type: ["string", "null"], maxLength: 10 },
    total: { anyOf: [{ type: "number" }, { type: "null" }] },
    version: { const: 2 },
    point: { type: "array", prefixItems: [{ type: "number" }, { type: "number" }], items: false },
  },
  required: ["status", "items", "note", "total", "version", "point"],
  additionalProperties: false,
};

const jsonSchema = (schema: object, strict = true) => ({
  response_format: { type: "json_schema", json_schema: { name: "order", schema, strict } },
});

describe("JSON answers", () => {
  it("json_schema with strict: every answer parses and validates against the schema", async () => {
    for (let seed = 0; seed < 15; seed++) {
      const { response } = await engine.chat(chatBody("An order, please.", { ...jsonSchema(ORDER), seed }));
      const choice = response.choices[0]!;
      expect(choice.finish_reason).toBe("stop");
      expect(validates(ORDER, choice.message.content!)).toBe(true);
    }
  });

  it("numbers are finite and integers whole (no exponent)", async () => {
    const numbers = {
      type: "object",
      properties: { i: { type: "array", items: { type: "integer" }, maxItems: 4 }, n: { type: "number" } },
    };
    for (let seed = 0; seed < 15; seed++) {
      const { response } = await engine.chat(chatBody("Numbers.", { ...jsonSchema(numbers), seed }));
      expect(validates(numbers, response.choices[0]!.message.content!)).toBe(true);
    }
  });

  it("json_object: every answer is a JSON object", async () => {
    for (let seed = 0; seed < 10; seed++) {
      const { response } = await engine.chat(
        chatBody("JSON, please.", { response_format: { type: "json_object" }, seed, max_tokens: 600 }),
      );
      const content = response.choices[0]!.message.content!;
      if (response.choices[0]!.finish_reason === "length") continue; // a long string ran out of tokens
      expect(validates({ type: "object" }, content)).toBe(true);
    }
  });

  it("without strict, keywords the grammar cannot enforce are left out and the rest holds", async () => {
    const schema = {
      type: "object",
      properties: { n: { type: "integer", minimum: 3 }, s: { type: "string", pattern: "^a", maxLength: 4 } },
    };
    const relaxed = {
      type: "object",
      properties: { n: { type: "integer" }, s: { type: "string", maxLength: 4 } },
    };
    for (let seed = 0; seed < 5; seed++) {
      const { response } = await engine.chat(chatBody("x", { ...jsonSchema(schema, false), seed }));
      expect(validates(relaxed, response.choices[0]!.message.content!)).toBe(true);
    }
    const error = await engine.chat(chatBody("x", jsonSchema(schema))).catch((e: unknown) => e);
    expect(error).toMatchObject({ param: "response_format.json_schema.schema.properties.n.minimum" });
  });

  it("a stream adds up to the same answer", async () => {
    const body = chatBody("An order, please.", { ...jsonSchema(ORDER), seed: 4 });
    const whole = (await engine.chat(body)).response;
    const stream = await engine.streamChat(body);
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe(whole.choices[0]!.message.content);
    expect(responseHash((await stream.result).response)).toBe(responseHash(whole));
  });

  it("with tools and tool_choice auto, the answer is calls or JSON of the schema", async () => {
    for (let seed = 0; seed < 8; seed++) {
      const { response } = await engine.chat(toolChat({ ...jsonSchema(ORDER), seed }));
      const message = response.choices[0]!.message;
      if (message.tool_calls)
        for (const call of message.tool_calls)
          if (call.function.name === "get_weather")
            expect(validates(WEATHER.function.parameters, call.function.arguments)).toBe(true);
      if (!message.tool_calls) expect(validates(ORDER, message.content!)).toBe(true);
    }
  });

  it.each([
    [
      "an unsatisfiable schema",
      jsonSchema({ type: "string", minLength: 5, maxLength: 2 }),
      "response_format.json_schema.schema.minLength",
    ],
    [
      "a recursive schema",
      jsonSchema({ $defs: { a: { $ref: "#/$defs/a" } }, $ref: "#/$defs/a" }),
      "response_format.json_schema.schema.$defs.a.$ref",
    ],
    [
      "a format with strict",
      jsonSchema({ type: "string", format: "email" }),
      "response_format.json_schema.schema.format",
    ],
    ["ignore_eos", { response_format: { type: "json_object" }, ignore_eos: true }, "ignore_eos"],
    [
      "a json_schema format without its schema object",
      { response_format: { type: "json_schema" } },
      "response_format.json_schema",
    ],
  ])("refuses %s: InvalidRequestError naming the field", async (_, extra, param) => {
    const error = await engine.chat(chatBody("x", extra)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).param).toBe(param);
  });
});
