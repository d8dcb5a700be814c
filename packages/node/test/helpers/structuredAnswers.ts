import type { ChatCompletion } from "@atoma/engine";

/** A tool whose calls the grammar bounds (a short city, a whole number of days). */
export const WEATHER_TOOL = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string", maxLength: 12 }, days: { type: "integer" } },
      required: ["city", "days"],
      additionalProperties: false,
    },
  },
};
/** Request fields that make the model answer with a call to {@link WEATHER_TOOL}. */
export const toolCalls = () => ({ tools: [WEATHER_TOOL], tool_choice: "required", max_tokens: 300 });

const ANSWER_SCHEMA = {
  type: "object",
  properties: { answer: { type: "string", maxLength: 12 }, sure: { type: "boolean" } },
  required: ["answer", "sure"],
  additionalProperties: false,
};
/** Request fields that make the model answer with a JSON document valid for a small schema. */
export const jsonAnswers = () => ({
  response_format: {
    type: "json_schema",
    json_schema: { name: "answer", schema: ANSWER_SCHEMA, strict: true },
  },
  max_tokens: 300,
});

/** The honest answer with its tool call's arguments swapped for others, just as well-formed. */
export function fakedToolCall(response: ChatCompletion): ChatCompletion {
  const choice = response.choices[0]!;
  const call = choice.message.tool_calls?.[0];
  if (!call) throw new Error("the honest answer has no tool call to fake");
  const faked = { ...call, function: { ...call.function, arguments: '{"city": "Paris", "days": 3}' } };
  return { ...response, choices: [{ ...choice, message: { ...choice.message, tool_calls: [faked] } }] };
}

/** The honest answer with its JSON swapped for another document that validates against the same schema. */
export function fakedJsonAnswer(response: ChatCompletion): ChatCompletion {
  const choice = response.choices[0]!;
  JSON.parse(choice.message.content ?? ""); // the honest answer is JSON
  const content = '{"answer": "forty-two", "sure": true}';
  return { ...response, choices: [{ ...choice, message: { ...choice.message, content } }] };
}
