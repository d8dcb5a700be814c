/** The part of the `secp256k1` package's native bindings (libsecp256k1) this project calls. */
export interface NativeSecp256k1 {
  /** The signer's public key (65 bytes uncompressed when `compressed` is false); throws when there is none. */
  ecdsaRecover(signature: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array;
  /** RFC 6979 deterministic, low-s: `r‖s` and the recovery bit. */
  ecdsaSign(msg32: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number };
}

type ModuleBuiltin = { createRequire(from: string): (id: string) => unknown };
type NodeProcess = { getBuiltinModule?: (id: string) => unknown; env?: Record<string, string | undefined> };

let loaded: NativeSecp256k1 | null | undefined;

/**
 * libsecp256k1 through the optional `secp256k1` package's native bindings (its prebuilt addon), loaded once; null
 * where it cannot load (not installed, no addon for the platform, a browser) or where
 * `ATOMA_NATIVE_SECP256K1=0`, and callers then use the pure-JS path. The package's own pure-JS fallback
 * (`elliptic`) is never used.
 */
export function nativeSecp256k1(): NativeSecp256k1 | null {
  if (loaded === undefined) loaded = load();
  return loaded;
}

function load(): NativeSecp256k1 | null {
  try {
    const nodeProcess = (globalThis as { process?: NodeProcess }).process;
    if (nodeProcess?.env?.ATOMA_NATIVE_SECP256K1 === "0") return null;
    const module = nodeProcess?.getBuiltinModule?.("node:module") as ModuleBuiltin | undefined;
    if (!module) return null;
    const binding = module.createRequire(import.meta.url)("secp256k1/bindings") as Partial<NativeSecp256k1>;
    const complete = typeof binding.ecdsaRecover === "function" && typeof binding.ecdsaSign === "function";
    return complete ? (binding as NativeSecp256k1) : null;
  } catch {
    return null;
  }
}
