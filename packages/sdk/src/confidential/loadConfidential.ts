import type * as Confidential from "@atoma/confidential";
import { ClientArgumentError } from "../errors.js";

/** The verification and encryption of `@atoma/confidential`, loaded only by a client that asks for confidentiality. */
export type ConfidentialModule = typeof Confidential;

/**
 * Its name in a variable: a bundler leaves the import alone, so the SDK's main entry stays bundleable for browsers
 * (the module uses Node's crypto); it is loaded only by a client that asks for confidentiality.
 */
const MODULE = "@atoma/confidential";
let loaded: Promise<ConfidentialModule> | undefined;

/** Loads `@atoma/confidential` once; `ClientArgumentError` when it is not installed (or not in Node.js). */
export function loadConfidential(): Promise<ConfidentialModule> {
  loaded ??= (import(/* @vite-ignore */ MODULE) as Promise<ConfidentialModule>).catch(() => {
    loaded = undefined;
    throw new ClientArgumentError(
      "confidential requests need @atoma/confidential, which runs in Node.js only",
    );
  });
  return loaded;
}
