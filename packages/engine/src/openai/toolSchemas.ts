import { z } from "zod";

/** OpenAI's limit on tools per request. */
export const MAX_TOOLS = 128;
/** OpenAI's rule for function and schema names. */
export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

const jsonSchema = z.record(z.string(), z.unknown());
/** What a function and a response format share: a name, a description, and whether their schema is strict. */
const namedSchema = {
  name: z.string().regex(TOOL_NAME, "must be 1 to 64 letters, digits, underscores or dashes"),
  description: z.string().max(100_000).nullish(),
  strict: z.boolean().nullish(),
};

export const toolSchema = z.looseObject({
  type: z.literal("function"),
  function: z.looseObject({
    ...namedSchema,
    /** The arguments' JSON schema (an object schema); none: the function takes no arguments. */
    parameters: jsonSchema.nullish(),
  }),
});

export const toolChoiceSchema = z.union([
  z.enum(["none", "auto", "required"]),
  z.looseObject({ type: z.literal("function"), function: z.looseObject({ name: z.string().max(256) }) }),
]);

/** A call an assistant turn made, as a client sends it back in a follow-up turn. */
export const assistantToolCallSchema = z.looseObject({
  id: z.string().max(256),
  type: z.literal("function"),
  function: z.looseObject({ name: z.string().max(256), arguments: z.string().max(1_000_000) }),
});

export const responseFormatSchema = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("text") }),
  z.looseObject({ type: z.literal("json_object") }),
  z.looseObject({
    type: z.literal("json_schema"),
    json_schema: z.looseObject({ ...namedSchema, schema: jsonSchema.nullish() }),
  }),
]);

export type Tool = z.infer<typeof toolSchema>;
export type ToolChoice = z.infer<typeof toolChoiceSchema>;
export type AssistantToolCall = z.infer<typeof assistantToolCallSchema>;
export type ResponseFormat = z.infer<typeof responseFormatSchema>;
