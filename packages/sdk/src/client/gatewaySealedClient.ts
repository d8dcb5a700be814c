import type { Address } from "viem";
import { StreamAssembler } from "../assembleStream.js";
import type { AttestationCheck, AttestationVerdict } from "../confidential/attestationVerdict.js";
import {
  confidentialOptionsOf,
  type GpuPolicy,
  networkDevRoot,
} from "../confidential/confidentialOptions.js";
import { AnswerUnverifiedError, ClientArgumentError } from "../errors.js";
import type { Network } from "../network.js";
import { verifyChainOf } from "../verify/verifyChain.js";
import { verifyResponse } from "../verify/verifyResponse.js";
import type { AtomaAnswer, AtomaClient, GatewayClientOptions } from "./atomaClient.js";
import { checkBody, checkPositiveInteger, type Endpoint } from "./clientArguments.js";
import { checkGatewayOptions } from "./gatewayArguments.js";
import { gatewayBuyer } from "./gatewayBuyer.js";
import type { ConfidentialAnswer, gatewayConfidentialClient } from "./gatewayConfidential.js";
import { networkOf } from "./networkInput.js";
import { withTokenLimit } from "./requestMarks.js";

type Body = Record<string, unknown>;

/** `confidential` of a gateway client: what it trusts when it checks the node the gateway picked. */
export interface GatewayConfidentialChoice {
  /**
   * PEM of a development attestation authority's root: its insecure dev evidence is accepted (labelled so). Without
   * it, the network description's root is taken only with `allowDev`, or by default on a local dev chain (31337).
   */
  devRootCertificatePem?: string | undefined;
  /** See `ConfidentialOptions.allowDev`. */
  allowDev?: boolean | undefined;
  /** TCB levels of a TDX platform accepted. @default ["UpToDate"] */
  allowedTcbStatuses?: readonly string[] | undefined;
  /** See `ConfidentialOptions.minTcbEvaluationDataNumber`. */
  minTcbEvaluationDataNumber?: number | undefined;
  /** NVIDIA's key set the node's GPU token is checked against (see `ConfidentialOptions.gpu`). */
  gpu?: GpuPolicy | undefined;
  /**
   * Take the node's epoch evidence, exactly the one its on-chain record names for the current epoch, when its fresh
   * quotes stay rate-limited, as a direct client does. `false`: such a request fails instead. @default true
   */
  epochEvidence?: boolean | undefined;
  /** How long a 429 on fresh evidence is waited out, in all. @default 2000 */
  attestationWaitMs?: number | undefined;
  /** Sessions tried for one request (a node that fails gets the request sealed again for another). @default 3 */
  attempts?: number | undefined;
}

/** The confidential gateway client, loaded only when asked for (it needs `@atoma/confidential`, Node.js only). */
const MODULE = "@atoma/sdk/gateway-confidential";
type Module = { gatewayConfidentialClient: typeof gatewayConfidentialClient };

/** Its `confidential` checked: everything needed to seal is there, or `ClientArgumentError` now, before any send. */
function checkChoice(options: GatewayClientOptions): GatewayConfidentialChoice {
  const given = options.confidential;
  if (given !== true && (typeof given !== "object" || given === null || Array.isArray(given)))
    throw new ClientArgumentError("confidential must be true, false or { devRootCertificatePem?, ... }");
  if (options.chain === undefined)
    throw new ClientArgumentError(
      "confidential through a gateway checks the node's record on the chain itself: give chain (not verify: false)",
    );
  if (typeof options.chain === "object" && options.chain !== null && "publicClient" in options.chain)
    throw new ClientArgumentError(
      "confidential through a gateway needs the network itself (its text, a Network, or { rpcUrl, contracts }), not a VerifyChain",
    );
  if (options.securityLevel !== undefined && options.securityLevel !== 3)
    throw new ClientArgumentError("a confidential client is served at level 3: leave securityLevel out");
  const choice: GatewayConfidentialChoice = given === true ? {} : given;
  confidentialOptionsOf({
    devRootCertificatePem: choice.devRootCertificatePem,
    allowedTcbStatuses: choice.allowedTcbStatuses,
    minTcbEvaluationDataNumber: choice.minTcbEvaluationDataNumber,
    gpu: choice.gpu,
  });
  for (const name of ["allowDev", "epochEvidence"] as const)
    if (choice[name] !== undefined && typeof choice[name] !== "boolean")
      throw new ClientArgumentError(`confidential.${name} must be a boolean`);
  for (const name of ["attestationWaitMs", "attempts"] as const)
    if (choice[name] !== undefined) checkPositiveInteger(choice[name], `confidential.${name}`);
  return choice;
}

/**
 * `createAtomaClient({ gateway, chain, confidential })`: every chat and completion is sealed, through the gateway, to
 * the node it picked, after this client checked that node's evidence for a fresh nonce and its record on the chain
 * (the chain's allow-list for the session's level-3 task, as direct mode). Nothing is ever sent in clear: the
 * gateway gets only the model and path to open a session, then the envelope. Embeddings are refused (no sealed path).
 * Each answer's receipt is then checked with `verifyResponse` (the gateway's stack, level 3, the envelope as sent).
 */
export function gatewaySealedClient(options: GatewayClientOptions): AtomaClient {
  const binding = checkGatewayOptions(options);
  const choice = checkChoice(options);
  const base = options.gateway.url.replace(/\/+$/, "");
  const fetcher = options.fetch ?? globalThis.fetch;
  const given = options.chain as Exclude<GatewayClientOptions["chain"], undefined>;
  let ready: Promise<{ network: Network; client: ReturnType<typeof gatewayConfidentialClient> }> | undefined;
  const readyOnce = () => {
    ready ??= Promise.all([
      networkOf(given as never),
      import(/* @vite-ignore */ MODULE) as Promise<Module>,
    ]).then(([network, module]) => {
      const devRoot = choice.devRootCertificatePem ?? networkDevRoot(network, choice.allowDev);
      const client = module.gatewayConfidentialClient({
        gateway: options.gateway,
        network,
        policy: {
          measurements: "chain",
          ...(devRoot !== undefined && { dev: { rootCertificatePem: devRoot } }),
          ...(choice.allowedTcbStatuses && { allowedTcbStatuses: choice.allowedTcbStatuses as never }),
          ...(choice.minTcbEvaluationDataNumber !== undefined && {
            minTcbEvaluationDataNumber: choice.minTcbEvaluationDataNumber,
          }),
          ...(choice.gpu && { gpu: choice.gpu as never }),
        },
        attempts: choice.attempts,
        attestationWaitMs: choice.attestationWaitMs,
        epochEvidence: choice.epochEvidence,
        fetch: fetcher,
      });
      return { network, client };
    });
    // A failed read is not kept: the next call tries again.
    ready.catch(() => {
      ready = undefined;
    });
    return ready;
  };
  let owner: Promise<Address> | undefined;
  const ownerOnce = () => {
    owner ??= binding.gatewayAddress ? Promise.resolve(binding.gatewayAddress) : gatewayBuyer(fetcher, base);
    owner.catch(() => {
      owner = undefined;
    });
    return owner;
  };

  async function call(
    endpoint: "chat" | "completions",
    body: Body,
    onChunk?: (chunk: Body) => void,
    onRestart?: () => void,
  ): Promise<AtomaAnswer> {
    const { network, client } = await readyOnce();
    const answer =
      endpoint === "chat" ? await client.chat(body, onChunk, onRestart) : await client.completions(body);
    const sealed = { ...answer.sealed, atoma: answer.atoma } as unknown as Body;
    const verifyOptions = {
      chain: verifyChainOf(network),
      request: answer.request,
      owner: await ownerOnce(),
      securityLevel: 3,
      fetch: fetcher,
    };
    const verdict = await verifyResponse(sealed, verifyOptions);
    if (!verdict.ok) throw new AnswerUnverifiedError(verdict);
    return {
      response: onChunk ? streamed(answer.response) : answer.response,
      atoma: answer.atoma,
      verdict,
      request: answer.request,
      sealed,
      attestation: attestationOf(answer),
      recheck: () => verifyResponse(sealed, verifyOptions),
    };
  }

  const run = (
    endpoint: Endpoint,
    body: unknown,
    stream: boolean,
    onChunk?: (c: Body) => void,
    onRestart?: () => void,
  ) => {
    try {
      if (endpoint === "embeddings")
        throw new ClientArgumentError(
          "a confidential client through a gateway seals chats and completions only: embeddings would go in clear",
        );
      const checked = withTokenLimit(endpoint, checkBody(endpoint, body));
      // A stream is asked for by a chunk callback (the sealed client streams exactly when it has one).
      return call(endpoint, checked, stream ? (onChunk ?? (() => {})) : undefined, onRestart);
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return {
    chat: (body) => run("chat", body, false),
    chatStream: (body, onChunk, onRestart) => run("chat", body, true, onChunk, onRestart),
    completions: (body) => run("completions", body, false),
    embeddings: (body) => run("embeddings", body, false),
  };
}

/** A sealed stream's opened chunks added up, as direct mode returns them. */
function streamed(response: Body): Body {
  const assembler = new StreamAssembler();
  for (const chunk of (response.chunks as Body[] | undefined) ?? []) assembler.add(chunk);
  return { ...assembler.response(), usage: response.usage };
}

/** The checks the gateway-mode client ran, in the verdict direct mode returns. */
function attestationOf(answer: ConfidentialAnswer): AttestationVerdict {
  const found = answer.attestation;
  const pass = (name: AttestationCheck["name"], reason: string): AttestationCheck => ({
    name,
    status: "pass",
    reason,
  });
  const checks: AttestationCheck[] = [
    pass(
      "evidence",
      `${found.kind} evidence for ${answer.freshness.kind === "nonce" ? "a fresh nonce" : "the current epoch"}`,
    ),
    pass("quote", found.insecure ? "signed under the development root" : `TCB ${found.tcbStatus}`),
    pass("binding", "the report data binds the on-chain signer, the key and the freshness value"),
    found.gpu
      ? pass("gpu", "NVIDIA attestation token verifies for this report data")
      : { name: "gpu", status: "skipped", reason: "no GPU token, or no NVIDIA key set to check it against" },
    answer.freshness.kind === "nonce"
      ? pass("nonce", "the nonce was issued here and answered once")
      : {
          name: "nonce",
          status: "skipped",
          reason:
            "the node's fresh quotes were rate-limited: its epoch evidence, as the chain's record names it",
        },
    pass("record", "the chain's record is current"),
    pass("record_key", "the chain's record names the attested key and kind"),
    pass("measurement", `the measurements the record names are allowed for task ${answer.taskId}`),
  ];
  return {
    ok: true,
    nodeId: answer.nodeId,
    kind: found.kind,
    insecure: found.insecure,
    label: found.label,
    encryptionPublicKey: found.binding.encryptionPublicKey,
    transient: false,
    checks,
    failures: [],
    checkedAt: found.verifiedAt,
  };
}
