import { bytesToHex, type Hex, keccak256 as viemKeccak256 } from "viem";

/** The part of the `keccak` package's native addon (XKCP's Keccak sponge) this project calls. */
interface KeccakSponge {
  initialize(rate: number, capacity: number): void;
  absorb(data: Uint8Array): void;
  /** Pads with Keccak's own suffix (0x01, not SHA-3's 0x06) on the first squeeze. */
  squeeze(length: number): Uint8Array;
}

type ModuleBuiltin = { createRequire(from: string): (id: string) => unknown };
type NodeProcess = { getBuiltinModule?: (id: string) => unknown; env?: Record<string, string | undefined> };
type BufferView = { from(buffer: ArrayBufferLike, offset: number, length: number): Uint8Array };

let loaded: KeccakSponge | null | undefined;
let bufferView: BufferView | undefined;

/**
 * One sponge of the optional `keccak` package's prebuilt addon, loaded once and reset for each hash (the thread
 * is single, each hash synchronous); null where it cannot load (not installed, no addon for the platform, a
 * browser) or where `ATOMA_NATIVE_KECCAK=0`, and callers then use viem's pure-JS keccak. The package's own
 * wrapper (a stream per hash) and its pure-JS fallback are never used.
 */
function nativeSponge(): KeccakSponge | null {
  if (loaded === undefined) loaded = load();
  return loaded;
}

function load(): KeccakSponge | null {
  try {
    const nodeProcess = (globalThis as { process?: NodeProcess }).process;
    if (nodeProcess?.env?.ATOMA_NATIVE_KECCAK === "0") return null;
    const module = nodeProcess?.getBuiltinModule?.("node:module") as ModuleBuiltin | undefined;
    if (!module) return null;
    const require = module.createRequire(import.meta.url);
    const resolve = (require as unknown as { resolve(id: string): string }).resolve;
    const packageJson = resolve("keccak/package.json");
    const fromPackage = module.createRequire(packageJson);
    const addonAt = fromPackage("node-gyp-build") as (dir: string) => unknown;
    const Sponge = addonAt(packageJson.slice(0, -"/package.json".length));
    if (typeof Sponge !== "function") return null;
    const sponge = new (Sponge as new () => KeccakSponge)();
    bufferView = (globalThis as { Buffer?: BufferView }).Buffer;
    if (!bufferView) return null;
    // Checked once against viem before it is trusted: the empty input and one across the 136-byte rate.
    const probe = new Uint8Array(200).map((_, i) => i);
    for (const input of [new Uint8Array(0), probe])
      if (bytesToHex(digest(sponge, input)) !== viemKeccak256(input)) return null;
    return sponge;
  } catch {
    return null;
  }
}

function digest(sponge: KeccakSponge, data: Uint8Array): Uint8Array {
  sponge.initialize(1088, 512);
  sponge.absorb(bufferView!.from(data.buffer, data.byteOffset, data.byteLength));
  return sponge.squeeze(32);
}

/** Whether the native sponge loaded (and passed its check against viem). */
export function nativeKeccakLoaded(): boolean {
  return nativeSponge() !== null;
}

/** keccak-256 of `data` as 32 bytes: the same bytes as viem's `keccak256(data, "bytes")`, natively where it can. */
export function keccak256Bytes(data: Uint8Array): Uint8Array {
  const sponge = nativeSponge();
  if (!sponge) return viemKeccak256(data, "bytes");
  return new Uint8Array(digest(sponge, data));
}

/** keccak-256 of `data` as `0x` hex: the same text as viem's `keccak256(data)`, natively where it can. */
export function keccak256Hex(data: Uint8Array): Hex {
  const sponge = nativeSponge();
  if (!sponge) return viemKeccak256(data);
  return bytesToHex(digest(sponge, data));
}
