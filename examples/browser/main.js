// Bundled for the page (`npx esbuild examples/browser/main.js --bundle --format=esm --outfile=examples/browser/bundle.js`).
import { createAtomaClient, parseNetwork, verdictLine } from "@atoma/sdk";
import { privateKeyToAccount } from "viem/accounts";

const params = new URLSearchParams(location.search);
const answerText = document.getElementById("answer");
const verdictText = document.getElementById("verdict");

try {
  const network = parseNetwork(params.get("network") ?? "");
  const client = params.get("key")
    ? createAtomaClient({
        gateway: { url: params.get("gateway"), apiKey: params.get("key") },
        chain: network,
      })
    : createAtomaClient({ network, account: privateKeyToAccount(params.get("privateKey")) });
  const answer = await client.chatStream(
    { model: network.model, messages: [{ role: "user", content: "Hello from a browser" }], max_tokens: 16 },
    (chunk) => {
      answerText.textContent += chunk.choices[0]?.delta?.content ?? "";
    },
  );
  verdictText.textContent = `stack ${answer.atoma.stack_id}: ${verdictLine(answer.verdict)}`;
} catch (error) {
  verdictText.textContent = `failed: ${error.code ?? error.name}: ${error.message}`;
}
