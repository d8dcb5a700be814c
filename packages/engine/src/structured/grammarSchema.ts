import type { GbnfJsonSchema } from "node-llama-cpp";
import { InvalidRequestError } from "../errors.js";

/** Largest length, item or property bound a schema may set (each unit becomes grammar rules). */
export const MAX_SCHEMA_BOUND = 4096;
/** Most subschemas one schema may expand to, references inlined. */
export const MAX_SCHEMA_NODES = 10_000;

const TYPES = new Set(["string", "number", "integer", "boolean", "null", "object", "array"]);

/** Assertions the grammar cannot enforce, by the type they constrain ("any": every type). */
const UNENFORCEABLE: Record<string, readonly string[]> = {
  any: ["not", "if", "then", "else", "allOf", "oneOf"],
  string: ["pattern", "format", "contentEncoding", "contentMediaType", "contentSchema"],
  number: ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"],
  object: [
    "patternProperties",
    "propertyNames",
    "dependentRequired",
    "dependentSchemas",
    "dependencies",
    "unevaluatedProperties",
  ],
  array: ["uniqueItems", "contains", "minContains", "maxContains", "unevaluatedItems"],
};

type Json = Record<string, unknown>;
const isRecord = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const isLiteral = (value: unknown): value is string | number | boolean | null =>
  value === null || ["string", "number", "boolean"].includes(typeof value);

/** Any JSON value, as node-llama-cpp's grammar generator spells it. */
const ANY_VALUE: GbnfJsonSchema = {
  oneOf: [
    { type: ["string", "number", "boolean", "null"] },
    { type: "object", additionalProperties: true },
    { type: "array" },
  ],
};

export interface SchemaOptions {
  /**
   * Every assertion must be one the grammar enforces (OpenAI's `strict`); otherwise assertions it cannot enforce
   * (`pattern`, `minimum`, `format`…) are left out and the answer follows the rest of the schema.
   */
  strict: boolean;
  /** The request field holding the schema, for error messages. */
  param: string;
}

/**
 * A client's JSON schema as node-llama-cpp's grammar generator takes it, such that every JSON value the grammar
 * allows validates against the schema: references inlined (`#/$defs/…`, `#/definitions/…`; recursion refused),
 * `anyOf` and multi-type `type` as alternatives, a one-element `allOf` unwrapped, annotations dropped, and
 * properties in sorted order (the grammar writes them in order, and verifiers read bodies as canonical JSON).
 * node-llama-cpp writes every listed property, so `required` holds whatever it names. Throws InvalidRequestError
 * (with `param`) for a schema no value satisfies, and, when strict, for one the grammar cannot enforce.
 */
export function grammarSchemaOf(schema: unknown, options: SchemaOptions): GbnfJsonSchema {
  const defs = new Map<string, unknown>();
  if (isRecord(schema))
    for (const key of ["$defs", "definitions"])
      if (isRecord(schema[key]))
        for (const [name, def] of Object.entries(schema[key] as Json))
          defs.set(`#/${key}/${pointerSegment(name)}`, def);
  let nodes = 0;

  const fail = (path: string, message: string): never => {
    throw new InvalidRequestError(`${path}: ${message}`, { param: path });
  };

  const translate = (node: unknown, path: string, refs: readonly string[]): GbnfJsonSchema => {
    if (++nodes > MAX_SCHEMA_NODES)
      fail(options.param, `the schema expands to more than ${MAX_SCHEMA_NODES} subschemas`);
    if (node === true) return ANY_VALUE;
    if (node === false) return fail(path, "no value satisfies the schema false");
    if (!isRecord(node)) return fail(path, "a schema must be an object or a boolean");
    const unenforced = (keyword: string, why = "the grammar cannot enforce it") => {
      if (options.strict) fail(`${path}.${keyword}`, `${keyword} is not supported with strict: ${why}`);
    };

    if (typeof node.$ref === "string") {
      const ref = node.$ref;
      if (refs.includes(ref)) return fail(`${path}.$ref`, "recursive schemas are not supported");
      const target = defs.get(ref);
      if (target === undefined)
        return fail(
          `${path}.$ref`,
          `${ref} is not a definition of the schema (#/$defs/<name> or #/definitions/<name>)`,
        );
      return translate(target, `${options.param}${ref.slice(1).replaceAll("/", ".")}`, [...refs, ref]);
    }
    if (Array.isArray(node.allOf) && node.allOf.length === 1) {
      const { allOf, ...rest } = node;
      return translate({ ...rest, ...(allOf[0] as Json) }, path, refs);
    }
    if (node.allOf !== undefined) unenforced("allOf");
    for (const keyword of ["not", "if", "then", "else"]) if (node[keyword] !== undefined) unenforced(keyword);

    const alternatives = node.anyOf ?? node.oneOf;
    if (node.oneOf !== undefined)
      unenforced("oneOf", "an answer may match more than one alternative; use anyOf");
    if (alternatives !== undefined) {
      const key = node.anyOf !== undefined ? "anyOf" : "oneOf";
      if (!Array.isArray(alternatives) || alternatives.length === 0)
        return fail(`${path}.${key}`, `${key} must be a non-empty array`);
      const { anyOf: _a, oneOf: _o, ...rest } = node;
      return {
        oneOf: alternatives.map((alternative, i) =>
          translate(
            isRecord(alternative) ? { ...rest, ...alternative } : alternative,
            `${path}.${key}.${i}`,
            refs,
          ),
        ),
      };
    }

    const declared = node.type === undefined ? undefined : Array.isArray(node.type) ? node.type : [node.type];
    if (declared !== undefined) {
      if (declared.length === 0) return fail(`${path}.type`, "type must name at least one type");
      for (const name of declared)
        if (typeof name !== "string" || !TYPES.has(name))
          fail(`${path}.type`, `unknown type ${JSON.stringify(name)}`);
    }
    const allowed = (value: unknown) => declared === undefined || ofType(value, declared as string[]);
    if (node.const !== undefined) {
      if (!allowed(node.const)) return fail(`${path}.const`, "the constant is not of the schema's type");
      if (isLiteral(node.const)) return { const: node.const };
      unenforced("const", "only string, number, boolean and null constants are");
    }
    if (node.enum !== undefined) {
      if (!Array.isArray(node.enum) || node.enum.length === 0)
        return fail(`${path}.enum`, "enum must be a non-empty array");
      const values = node.enum.filter(allowed);
      if (values.length === 0) return fail(`${path}.enum`, "no enum value is of the schema's type");
      const literals = values.filter(isLiteral);
      if (literals.length < values.length)
        unenforced("enum", "only string, number, boolean and null values are");
      if (literals.length > 0) return { enum: literals };
    }

    const types = declared ?? inferredTypes(node);
    if (types === undefined) return ANY_VALUE;
    if (types.length > 1)
      return { oneOf: types.map((name) => translate({ ...node, type: name }, path, refs)) };
    const only = types[0] as string;
    const family = only === "integer" ? "number" : only;
    for (const keyword of UNENFORCEABLE[family] ?? []) if (node[keyword] !== undefined) unenforced(keyword);

    if (only === "string") return stringSchema(node, path, fail);
    if (only === "object") return objectSchema(node, path, refs, translate, fail);
    if (only === "array") return arraySchema(node, path, refs, translate, fail);
    return { type: only as "number" | "integer" | "boolean" | "null" };
  };

  return translate(schema, options.param, []);
}

type Translate = (node: unknown, path: string, refs: readonly string[]) => GbnfJsonSchema;
type Fail = (path: string, message: string) => never;

/** Keywords that constrain values of one type (besides the unenforceable ones): what a schema without `type` means. */
const KEYWORDS_OF: Record<string, readonly string[]> = {
  object: ["properties", "additionalProperties", "required", "minProperties", "maxProperties"],
  array: ["items", "prefixItems", "minItems", "maxItems"],
  string: ["minLength", "maxLength"],
  number: [],
};

/**
 * The types a schema without `type` constrains. JSON Schema lets every other type through such a schema unchecked,
 * but an answer of the constrained type is what its author meant; none named: any value.
 */
function inferredTypes(node: Json): string[] | undefined {
  const types = Object.keys(KEYWORDS_OF).filter((type) =>
    [...(KEYWORDS_OF[type] ?? []), ...(UNENFORCEABLE[type] ?? [])].some((keyword) => keyword in node),
  );
  return types.length === 0 ? undefined : types;
}

function ofType(value: unknown, types: readonly string[]): boolean {
  const type =
    value === null
      ? "null"
      : Array.isArray(value)
        ? "array"
        : typeof value === "number"
          ? Number.isInteger(value)
            ? "integer"
            : "number"
          : typeof value;
  return types.includes(type) || (type === "integer" && types.includes("number"));
}

/** A bound of the schema: a whole number within MAX_SCHEMA_BOUND, or undefined when absent. */
function bound(node: Json, key: string, path: string, fail: Fail): number | undefined {
  const value = node[key];
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || (value as number) < 0)
    return fail(`${path}.${key}`, `${key} must be a non-negative integer`);
  if ((value as number) > MAX_SCHEMA_BOUND)
    return fail(`${path}.${key}`, `${key} above ${MAX_SCHEMA_BOUND} is not supported`);
  return value as number;
}

function ordered(path: string, key: string, min: number | undefined, max: number | undefined, fail: Fail) {
  if (min !== undefined && max !== undefined && min > max)
    fail(`${path}.${key}`, `no value satisfies a minimum above the maximum (${min} > ${max})`);
}

function stringSchema(node: Json, path: string, fail: Fail): GbnfJsonSchema {
  const minLength = bound(node, "minLength", path, fail);
  const maxLength = bound(node, "maxLength", path, fail);
  ordered(path, "minLength", minLength, maxLength, fail);
  return {
    type: "string",
    ...(minLength === undefined ? {} : { minLength }),
    ...(maxLength === undefined ? {} : { maxLength }),
  };
}

function objectSchema(node: Json, path: string, refs: readonly string[], translate: Translate, fail: Fail) {
  const properties = node.properties ?? {};
  if (!isRecord(properties)) return fail(`${path}.properties`, "properties must be an object");
  const names = Object.keys(properties).sort();
  const required = node.required ?? [];
  if (!Array.isArray(required) || !required.every((name) => typeof name === "string"))
    return fail(`${path}.required`, "required must be an array of property names");
  for (const name of required)
    if (!names.includes(name))
      fail(`${path}.required`, `required property ${JSON.stringify(name)} is not among the properties`);
  const minProperties = bound(node, "minProperties", path, fail);
  const maxProperties = bound(node, "maxProperties", path, fail);
  ordered(path, "minProperties", minProperties, maxProperties, fail);
  if (maxProperties !== undefined && maxProperties < names.length)
    fail(
      `${path}.maxProperties`,
      `every one of the ${names.length} properties is written, more than maxProperties`,
    );
  const extra = node.additionalProperties;
  // Left out, JSON Schema allows any more properties; the grammar then writes more only where minProperties asks.
  const needsExtra = minProperties !== undefined && minProperties > names.length;
  if (extra === false && needsExtra)
    fail(`${path}.minProperties`, "minProperties exceeds the properties and no other property is allowed");
  const additionalProperties =
    extra === undefined
      ? needsExtra
        ? true
        : undefined
      : extra === false
        ? undefined
        : extra === true
          ? true
          : translate(extra, `${path}.additionalProperties`, refs);
  return {
    type: "object",
    properties: Object.fromEntries(
      names.map((name) => [name, translate(properties[name], `${path}.properties.${name}`, refs)]),
    ),
    ...(additionalProperties === undefined ? {} : { additionalProperties }),
    ...(minProperties === undefined ? {} : { minProperties }),
    ...(maxProperties === undefined ? {} : { maxProperties }),
  } as GbnfJsonSchema;
}

function arraySchema(node: Json, path: string, refs: readonly string[], translate: Translate, fail: Fail) {
  // Draft 7 spells a tuple as an items array, with additionalItems for the rest.
  const tuple = Array.isArray(node.items);
  const prefix = tuple ? node.items : (node.prefixItems ?? []);
  const rest = tuple ? node.additionalItems : node.items;
  if (!Array.isArray(prefix)) return fail(`${path}.prefixItems`, "prefixItems must be an array");
  const minItems = bound(node, "minItems", path, fail);
  let maxItems = bound(node, "maxItems", path, fail);
  ordered(path, "minItems", minItems, maxItems, fail);
  if (rest === false) maxItems = Math.min(maxItems ?? prefix.length, prefix.length);
  if (maxItems !== undefined && maxItems < prefix.length)
    fail(`${path}.maxItems`, "every prefixItems entry is written, more than maxItems");
  if (minItems !== undefined && maxItems !== undefined && minItems > maxItems)
    fail(`${path}.minItems`, "no other item is allowed past prefixItems, fewer than minItems");
  const items = rest === undefined || typeof rest === "boolean" ? undefined : rest;
  return {
    type: "array",
    ...(items === undefined ? {} : { items: translate(items, `${path}.items`, refs) }),
    ...(prefix.length === 0
      ? {}
      : { prefixItems: prefix.map((item, i) => translate(item, `${path}.prefixItems.${i}`, refs)) }),
    ...(minItems === undefined ? {} : { minItems }),
    ...(maxItems === undefined ? {} : { maxItems }),
  } as GbnfJsonSchema;
}

/** A definition's name as a JSON pointer segment. */
function pointerSegment(name: string): string {
  return name.replaceAll("~", "~0").replaceAll("/", "~1");
}
