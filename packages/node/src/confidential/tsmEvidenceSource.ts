import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Collateral } from "@atoma/confidential";
import { toHex } from "@atoma/confidential";
import { EvidenceSourceError } from "./errors.js";
import { checkReportDataLength, type EvidenceSource } from "./evidenceSource.js";

/** Where Linux mounts configfs-tsm's report entries. */
export const TSM_REPORT_ROOT = "/sys/kernel/config/tsm/report";

export interface TsmEvidenceSourceOptions {
  /** The configfs-tsm report directory. @default /sys/kernel/config/tsm/report */
  root?: string | undefined;
  /** The report entry this node uses (created when missing: configfs fills it with inblob, outblob, generation). */
  entry?: string | undefined;
  /** Intel's collateral for this platform's quotes (from a PCCS), sent with each quote (the quote it goes with). */
  collateral: (quote: Uint8Array) => Promise<Collateral>;
  /** GPU evidence: an NVIDIA attestation service token for the quote's report data, when the node has one. */
  gpuToken?: ((reportData: Uint8Array) => Promise<string | undefined>) | undefined;
}

async function readGeneration(dir: string): Promise<string | undefined> {
  try {
    return (await readFile(join(dir, "generation"), "utf8")).trim();
  } catch {
    return undefined; // older kernels have no generation attribute
  }
}

/**
 * Intel TDX evidence read through configfs-tsm: write the 64 bytes of report data to `<entry>/inblob`, read the
 * quote from `<entry>/outblob`. The kernel counts writes in `generation`: when it moved between the write and the
 * read, another writer shared the entry and the quote may be for its report data, so the read is retried. Calls
 * are serialized (one entry, one report at a time).
 */
export function tsmEvidenceSource(options: TsmEvidenceSourceOptions): EvidenceSource {
  const dir = join(options.root ?? TSM_REPORT_ROOT, options.entry ?? "atoma");
  let queue: Promise<unknown> = Promise.resolve();

  const readQuote = async (reportData: Uint8Array): Promise<Uint8Array> => {
    await mkdir(dir, { recursive: true });
    for (let attempt = 0; attempt < 3; attempt++) {
      await writeFile(join(dir, "inblob"), reportData);
      const before = await readGeneration(dir);
      const quote = new Uint8Array(await readFile(join(dir, "outblob")));
      const after = await readGeneration(dir);
      if (before === after) {
        if (quote.length === 0) throw new EvidenceSourceError(`configfs-tsm gave an empty quote in ${dir}`);
        return quote;
      }
    }
    throw new EvidenceSourceError(`configfs-tsm entry ${dir} kept changing under another writer`);
  };

  return {
    kind: "tdx",
    async produce(reportData, encryptionPublicKey) {
      checkReportDataLength(reportData);
      // Only the configfs-tsm entry is shared: quotes are read one at a time, GPU evidence (seconds) after, apart.
      const read = queue.then(async (): Promise<Uint8Array> => {
        try {
          return await readQuote(reportData);
        } catch (error) {
          if (error instanceof EvidenceSourceError) throw error;
          throw new EvidenceSourceError(`could not read a TDX quote through configfs-tsm at ${dir}`, {
            cause: error,
          });
        }
      });
      queue = read.catch(() => undefined);
      const quote = await read;
      const gpuToken = await options.gpuToken?.(reportData);
      return {
        kind: "tdx",
        quote: toHex(quote),
        collateral: await options.collateral(quote),
        encryptionPublicKey,
        ...(gpuToken ? { gpuToken } : {}),
      };
    },
  };
}
