import { type LeafProof, parseLeafProof } from "@atoma/core";
import { readBodyCapped } from "../readBodyCapped.js";

/** A proof is a few kilobytes at most (32 siblings): anything far larger is not one. */
const MAX_PROOF_BYTES = 64 * 1024;

/**
 * `GET {nodeUrl}/v1/stacks/{stackId}/proof/{leafIndex}`, shape-checked. Returns the reason as text when the node
 * does not serve one (unreachable, an error answer, not a proof); the caller reports it.
 */
export async function fetchLeafProof(
  fetcher: typeof fetch,
  nodeUrl: string,
  stackId: bigint,
  leafIndex: bigint,
  timeoutMs: number,
  /** Gives up early (the caller's own deadline). */
  signal?: AbortSignal | undefined,
): Promise<LeafProof | string> {
  let url: URL;
  try {
    url = new URL(`v1/stacks/${stackId}/proof/${leafIndex}`, nodeUrl.endsWith("/") ? nodeUrl : `${nodeUrl}/`);
  } catch {
    return `the node's registered URL ${JSON.stringify(nodeUrl)} is not a URL`;
  }
  let text: string;
  try {
    // A node's URL is anyone's to register: no redirect elsewhere, and no more read than a proof can be.
    const timeout = AbortSignal.timeout(timeoutMs);
    const response = await fetcher(url, {
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      redirect: "error",
    });
    text = await readBodyCapped(response, MAX_PROOF_BYTES, "leaf proof");
    if (!response.ok) {
      const code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
      return `the node answered ${response.status}${typeof code === "string" ? ` ${code}` : ""}`;
    }
  } catch (error) {
    return `the node at ${url.origin} did not serve the proof (${error instanceof Error ? error.message : "failed"})`;
  }
  try {
    return parseLeafProof(JSON.parse(text));
  } catch (error) {
    return `the node's answer is not a leaf proof (${error instanceof Error ? error.message : "invalid"})`;
  }
}
