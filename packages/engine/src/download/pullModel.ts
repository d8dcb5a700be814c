import { existsSync, statSync } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { type Hash, InvalidInputError } from "@atoma/core";
import { ModelDownloadError, WeightsRootMismatchError } from "../errors.js";
import { weightsRoot } from "../weights/weightsRoot.js";

/** Where `hf:` sources are fetched from; overridable for mirrors and tests. */
export const HUGGING_FACE_URL = "https://huggingface.co";

export interface ModelSource {
  repo: string;
  file: string;
}

/** Parses `hf:<owner>/<repo>/<path of the file>`. */
export function parseModelSource(source: string): ModelSource {
  const match = /^hf:([\w.-]+\/[\w.-]+)\/(.+)$/.exec(source);
  const file = match?.[2];
  if (!match || !file || file.split("/").some((part) => part === "" || part === "." || part === ".."))
    throw new InvalidInputError(`model source must look like hf:<owner>/<repo>/<file>, got "${source}"`);
  return { repo: match[1]!, file };
}

export interface DownloadProgress {
  /** Bytes on disk so far (a resumed download starts above 0). */
  received: number;
  /** Size of the whole file, when the server says. */
  total: number | undefined;
}

export interface PullOptions {
  /** Directory to write into. */
  to: string;
  /** @default HUGGING_FACE_URL */
  baseUrl?: string | undefined;
  /** Sent as a bearer token (Hugging Face's gated models). Never logged. */
  token?: string | undefined;
  /** When set, the finished file must have this weights root or it is deleted. */
  expectedRoot?: Hash | undefined;
  onProgress?: ((progress: DownloadProgress) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export interface PulledModel {
  path: string;
  bytes: number;
  /** False when the file was already there. */
  downloaded: boolean;
  /** Bytes that were already in a `.partial` file and not fetched again. */
  resumedFrom: number;
}

/**
 * Downloads `hf:<repo>/<file>` from `<baseUrl>/<repo>/resolve/main/<file>` into `to`. Bytes go to
 * `<file>.partial`; an interrupted download resumes from where it stopped with an HTTP Range request, and the
 * file gets its final name only once complete (and, with `expectedRoot`, verified).
 */
export async function pullModel(source: string, options: PullOptions): Promise<PulledModel> {
  const { repo, file } = parseModelSource(source);
  const path = join(options.to, basename(file));
  if (existsSync(path)) return { path, bytes: statSync(path).size, downloaded: false, resumedFrom: 0 };
  await mkdir(options.to, { recursive: true });
  const partial = `${path}.partial`;
  const resumedFrom = existsSync(partial) ? (await stat(partial)).size : 0;
  const url = `${(options.baseUrl ?? HUGGING_FACE_URL).replace(/\/+$/, "")}/${repo}/resolve/main/${file
    .split("/")
    .map(encodeURIComponent)
    .join("/")}`;
  const headers: Record<string, string> = {};
  if (resumedFrom > 0) headers.range = `bytes=${resumedFrom}-`;
  if (options.token) headers.authorization = `Bearer ${options.token}`;

  let response: Response;
  try {
    response = await fetch(url, { headers, signal: options.signal ?? null, redirect: "follow" });
  } catch (error) {
    throw new ModelDownloadError(`cannot reach ${new URL(url).origin}`, {
      details: messageOf(error),
      cause: error,
    });
  }
  let offset = 0;
  let total: number | undefined;
  if (response.status === 416 && resumedFrom > 0) {
    // The partial file already holds every byte.
    await response.body?.cancel();
    offset = resumedFrom;
    total = resumedFrom;
  } else if (response.status === 206) {
    const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(response.headers.get("content-range") ?? "");
    if (!range || Number(range[1]) !== resumedFrom)
      throw new ModelDownloadError(`the server answered the range request for ${file} with another range`);
    offset = resumedFrom;
    total = range[2] === "*" ? undefined : Number(range[2]);
  } else if (response.status === 200) {
    const length = response.headers.get("content-length");
    total = length === null ? undefined : Number(length);
  } else {
    await response.body?.cancel();
    throw new ModelDownloadError(`downloading ${source} failed: HTTP ${response.status}`);
  }

  let received = offset;
  options.onProgress?.({ received, total });
  if (response.body && received !== total) {
    // Each chunk is on disk before it counts, so a resume starts exactly where the file ends.
    const output = await open(partial, offset > 0 ? "a" : "w");
    try {
      for await (const chunk of response.body) {
        await output.write(chunk);
        received += chunk.length;
        options.onProgress?.({ received, total });
      }
    } catch (error) {
      throw new ModelDownloadError(`download of ${file} stopped at ${received} bytes; run again to resume`, {
        details: messageOf(error),
        cause: error,
      });
    } finally {
      await output.close();
    }
  }
  const bytes = (await stat(partial)).size;
  if (total !== undefined && bytes !== total)
    throw new ModelDownloadError(
      `download of ${file} ended at ${bytes} of ${total} bytes; run again to resume`,
    );
  if (options.expectedRoot) {
    const actual = await weightsRoot(partial);
    if (actual.toLowerCase() !== options.expectedRoot.toLowerCase()) {
      await rm(partial, { force: true });
      throw new WeightsRootMismatchError(path, options.expectedRoot, actual);
    }
  }
  await rename(partial, path);
  return { path, bytes, downloaded: true, resumedFrom: offset };
}

function messageOf(error: unknown): string {
  if (error instanceof Error)
    return error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message;
  return String(error);
}
