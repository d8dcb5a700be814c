import { describe, expect, it } from "vitest";
import { InvalidRequestError } from "../errors.js";
import { grammarSchemaOf } from "./grammarSchema.js";

const param = "response_format.json_schema.schema";
const translate = (schema: unknown, strict = true) => grammarSchemaOf(schema, { strict, param });
const refusal = (schema: unknown, strict = true) => {
  try {
    translate(schema, strict);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRequestError);
    return error as InvalidRequestError;
  }
  throw new Error("the schema was accepted");
};

describe("grammarSchemaOf", () => {
  it("sorts properties, inlines references, and spells anyOf and type lists as alternatives", () => {
    expect(
      translate({
        $defs: { unit: { enum: ["c", "f"] } },
        type: "object",
        properties: { z: { type: ["string", "null"] }, a: { $ref: "#/$defs/unit" } },
        required: ["a"],
        additionalProperties: false,
      }),
    ).toEqual({
      type: "object",
      properties: { a: { enum: ["c", "f"] }, z: { oneOf: [{ type: "string" }, { type: "null" }] } },
    });
    expect(translate({ anyOf: [{ type: "integer" }, { type: "boolean" }] })).toEqual({
      oneOf: [{ type: "integer" }, { type: "boolean" }],
    });
    expect(
      translate({ definitions: { n: { type: "number" } }, allOf: [{ $ref: "#/definitions/n" }] }),
    ).toEqual({
      type: "number",
    });
  });

  it("keeps the bounds it enforces and infers a missing type from the keywords", () => {
    expect(translate({ maxLength: 5, minLength: 1 })).toEqual({ type: "string", minLength: 1, maxLength: 5 });
    expect(translate({ items: { type: "boolean" }, maxItems: 2 })).toEqual({
      type: "array",
      items: { type: "boolean" },
      maxItems: 2,
    });
    expect(translate({ type: "array", prefixItems: [{ const: 1 }], items: false })).toMatchObject({
      maxItems: 1,
    });
  });

  it.each([
    ["false", false, param],
    ["an empty enum", { enum: [] }, `${param}.enum`],
    ["an enum with no value of the type", { type: "string", enum: [1, 2] }, `${param}.enum`],
    ["minLength above maxLength", { type: "string", minLength: 3, maxLength: 2 }, `${param}.minLength`],
    ["minItems above maxItems", { type: "array", minItems: 3, maxItems: 2 }, `${param}.minItems`],
    [
      "a required property that is not a property",
      { type: "object", properties: {}, required: ["x"] },
      `${param}.required`,
    ],
    [
      "maxProperties below the properties",
      { type: "object", properties: { a: {}, b: {} }, maxProperties: 1 },
      `${param}.maxProperties`,
    ],
    ["an unknown type", { type: "decimal" }, `${param}.type`],
    ["a reference to nothing", { $ref: "#/$defs/missing" }, `${param}.$ref`],
    [
      "a recursive schema",
      {
        $defs: { node: { type: "object", properties: { next: { $ref: "#/$defs/node" } } } },
        $ref: "#/$defs/node",
      },
      `${param}.$defs.node.properties.next.$ref`,
    ],
    ["a bound too large to spell", { type: "string", maxLength: 1_000_000 }, `${param}.maxLength`],
  ])("refuses %s, naming where (strict or not)", (_, schema, where) => {
    expect(refusal(schema).param).toBe(where);
    expect(refusal(schema, false).param).toBe(where);
  });

  it.each([
    ["pattern", { type: "string", pattern: "^a" }],
    ["minimum", { type: "integer", minimum: 3 }],
    ["format", { type: "string", format: "email" }],
    ["uniqueItems", { type: "array", uniqueItems: true }],
    ["oneOf", { oneOf: [{ type: "string" }, { type: "number" }] }],
    ["not", { not: { type: "string" } }],
  ])("with strict, refuses %s (the grammar cannot enforce it); without, leaves it out", (keyword, schema) => {
    expect(refusal(schema).param).toBe(`${param}.${keyword}`);
    expect(() => translate(schema, false)).not.toThrow();
  });

  it("reads draft-7 tuples and additionalProperties schemas", () => {
    expect(translate({ type: "array", items: [{ type: "string" }], additionalItems: false })).toEqual({
      type: "array",
      prefixItems: [{ type: "string" }],
      maxItems: 1,
    });
    expect(
      translate({ type: "object", additionalProperties: { type: "integer" }, minProperties: 1 }),
    ).toEqual({
      type: "object",
      properties: {},
      additionalProperties: { type: "integer" },
      minProperties: 1,
    });
  });
});
