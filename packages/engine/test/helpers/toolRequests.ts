import { Ajv2020 } from "ajv/dist/2020.js";
import { chatBody } from "./tinyEngine.js";

export const WEATHER = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather in a city over the next days",
    parameters: {
      type: "object",
      properties: {
        city: { type: "string", maxLength: 12 },
        days: { type: "integer" },
        unit: { enum: ["c", "f"] },
      },
      required: ["city", "days"],
      additionalProperties: false,
    },
    strict: true,
  },
};

export const SEARCH = {
  type: "function",
  function: {
    name: "search",
    parameters: {
      type: "object",
      properties: { terms: { type: "array", items: { type: "string", maxLength: 6 }, maxItems: 3 } },
    },
  },
};

/** A chat with tools, long enough to finish a call. */
export const toolChat = (extra: Record<string, unknown> = {}) =>
  chatBody("What is the weather in Paris?", { tools: [WEATHER, SEARCH], max_tokens: 300, ...extra });

const ajv = new Ajv2020({ strict: false, allErrors: true });

/** Whether `json` parses and validates against `schema`; the validator's complaint otherwise. */
export function validates(schema: object, json: string): true | string {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    return `not JSON: ${String(error)}: ${json}`;
  }
  if (!finite(value)) return `a number is not finite: ${json}`;
  const validate = ajv.compile(schema);
  return validate(value) ? true : `${ajv.errorsText(validate.errors)}: ${json}`;
}

function finite(value: unknown): boolean {
  if (typeof value === "number") return Number.isFinite(value);
  if (typeof value === "object" && value !== null) return Object.values(value).every(finite);
  return true;
}
