import { shellWord } from "../shellWord.js";

/**
 * How to reach `atoma dev`'s gateway with `curl` and any OpenAI client, as lines a person pastes: every value is quoted
 * for the shell or as a JavaScript string, so a model name (a third party's file name, for `hf:` sources) stays data.
 */
export function gatewayHint(gateway: { url: string; apiKey: string; model: string }): string {
  const body = JSON.stringify({ model: gateway.model, messages: [{ role: "user", content: "Hello" }] });
  return (
    `Or ask it through the gateway, with any OpenAI client (it buys the stacks and signs for you):\n` +
    `  curl -s ${shellWord(`${gateway.url}/v1/chat/completions`)} -H ${shellWord(`Authorization: Bearer ${gateway.apiKey}`)} \\\n` +
    `    -H 'content-type: application/json' -d ${shellWord(body)}\n` +
    `  new OpenAI({ baseURL: ${JSON.stringify(`${gateway.url}/v1`)}, apiKey: ${JSON.stringify(gateway.apiKey)} })\n\n`
  );
}
