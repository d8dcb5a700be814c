// Asks the network one question and checks the answer against the chain.
//   ATOMA_NETWORK      the network file `atoma dev` writes (or a file holding its ready line)
//   ATOMA_API_KEY      with ATOMA_GATEWAY_URL: through that gateway
//   ATOMA_PRIVATE_KEY  otherwise: non-custodial, this funded key buys a stack and signs
import { readFileSync } from "node:fs";
import { createAtomaClient, parseNetwork, verdictLine } from "@atoma/sdk";
import { privateKeyToAccount } from "viem/accounts";

const networkText = readFileSync(process.env.ATOMA_NETWORK, "utf8");
const network = parseNetwork(networkText);
const client = process.env.ATOMA_API_KEY
  ? createAtomaClient({
      gateway: { url: process.env.ATOMA_GATEWAY_URL, apiKey: process.env.ATOMA_API_KEY },
      chain: network,
    })
  : createAtomaClient({ network, account: privateKeyToAccount(process.env.ATOMA_PRIVATE_KEY) });

const answer = await client.chatStream(
  { model: network.model, messages: [{ role: "user", content: process.argv[2] ?? "Hello" }], max_tokens: 16 },
  (chunk) => process.stdout.write(chunk.choices[0]?.delta?.content ?? ""),
);
process.stdout.write("\n");
process.stdout.write(
  `stack ${answer.atoma.stack_id}, node ${answer.atoma.node_id}: ${verdictLine(answer.verdict)}\n`,
);
