import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Collateral, DevAttestationKey, TdMeasurements } from "@atoma/confidential";
import type { Logger } from "@atoma/core";
import type { Address } from "viem";
import type { NodeConfig } from "../config/loadConfig.js";
import { ConfigError } from "../errors.js";
import { collateralFile, readCollateral } from "./collateralFile.js";
import { CollateralRefresher } from "./collateralRefresher.js";
import { ConfidentialCompute } from "./confidentialCompute.js";
import { devEvidenceSource, type EvidenceSource } from "./evidenceSource.js";
import { gpuTokenCommand } from "./gpuTokenCommand.js";
import { tsmEvidenceSource } from "./tsmEvidenceSource.js";

const HEX48 = /^0x[0-9a-fA-F]{96}$/;

function readJson(path: string, option: string): unknown {
  let text: string;
  try {
    text = readFileSync(resolve(path), "utf8");
  } catch {
    throw new ConfigError(`${option}: ${path} cannot be read`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ConfigError(`${option}: ${path} is not JSON`);
  }
}

/** `confidential.devKeyFile`: `{ certificatePem, privateKeyPem, measurements: { mrTd, rtmr0..3 } }`. */
function readDevKey(path: string): { key: DevAttestationKey; measurements: TdMeasurements } {
  const value = readJson(path, "confidential.devKeyFile") as Record<string, unknown> | null;
  const measurements = value?.measurements as Record<string, unknown> | undefined;
  const registers = ["mrTd", "rtmr0", "rtmr1", "rtmr2", "rtmr3"];
  if (
    typeof value?.certificatePem !== "string" ||
    typeof value.privateKeyPem !== "string" ||
    !measurements ||
    !registers.every((r) => typeof measurements[r] === "string" && HEX48.test(measurements[r] as string))
  )
    throw new ConfigError(
      "confidential.devKeyFile must hold certificatePem, privateKeyPem and measurements { mrTd, rtmr0..3 } (48-byte hex)",
    );
  return {
    key: { certificatePem: value.certificatePem, privateKeyPem: value.privateKeyPem },
    measurements: measurements as unknown as TdMeasurements,
  };
}

/**
 * The node's confidential compute as `confidential.*` describes it, or undefined when `kind` is "off". `tdx` reads
 * quotes through configfs-tsm with the collateral file's contents, or a PCCS's kept fresh (`pccsUrl`); `dev` signs development quotes with the key file.
 * Either attaches GPU evidence from `gpuTokenCommand` when set.
 * Throws `ConfigError` for a missing or malformed file.
 */
export function confidentialFromConfig(
  config: NodeConfig,
  signingAddress: Address,
  logger: Logger,
): ConfidentialCompute | undefined {
  const options = config.confidential;
  if (options.kind === "off") return undefined;
  const [gpuFile, ...gpuArgs] = options.gpuTokenCommand ?? [];
  const gpuToken =
    gpuFile === undefined
      ? undefined
      : gpuTokenCommand({
          command: [gpuFile, ...gpuArgs],
          timeoutMs: options.gpuTokenTimeoutMs,
          env: options.gpuTokenEnv,
        });
  let source: EvidenceSource;
  if (options.kind === "tdx") {
    const file = options.collateralFile;
    if (file === undefined && options.pccsUrl === undefined)
      throw new ConfigError(
        "confidential.kind tdx needs confidential.collateralFile or confidential.pccsUrl",
      );
    let collateral: (quote: Uint8Array) => Promise<Collateral>;
    if (options.pccsUrl === undefined) collateral = collateralFile(resolve(file!), logger);
    else {
      // The file's collateral, if any, is served until the first refresh replaces it.
      const refresher = new CollateralRefresher({
        pccsUrl: options.pccsUrl,
        initial: file === undefined ? undefined : readCollateral(resolve(file)),
        logger,
      });
      refresher.start();
      collateral = (quote) => refresher.collateral(quote);
    }
    source = tsmEvidenceSource({ root: options.tsmRoot, collateral, gpuToken });
  } else {
    if (options.devKeyFile === undefined)
      throw new ConfigError("confidential.kind dev needs confidential.devKeyFile");
    const { key, measurements } = readDevKey(options.devKeyFile);
    source = devEvidenceSource(key, measurements, { gpuToken });
  }
  return new ConfidentialCompute({
    source,
    signingAddress,
    quotesPerSecond: options.quotesPerSecond,
    quoteBurst: options.quoteBurst,
    quotesPerSecondPerSource: options.quotesPerSecondPerSource,
    quoteBurstPerSource: options.quoteBurstPerSource,
    logger,
  });
}
