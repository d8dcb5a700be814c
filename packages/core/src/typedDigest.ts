import {
  getTypesForEIP712Domain,
  type Hex,
  hashDomain,
  hashTypedData,
  hexToBytes,
  stringToBytes,
  type TypedDataDomain,
  validateTypedData,
} from "viem";
import { keccak256Bytes, keccak256Hex } from "./keccak.js";

/** One field of a flat EIP-712 struct: a name and a Solidity type. */
export interface TypedField {
  readonly name: string;
  readonly type: string;
}

/** A flat struct compiled once: its type hash and, per field, the bound a `uintN` value must stay under (0n: bytes32). */
interface CompiledStruct {
  typeHash: Uint8Array;
  fields: { name: string; below: bigint }[];
}

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;
const MAX_DOMAINS = 64;
const compiled = new WeakMap<object, Map<string, CompiledStruct | null>>();
const separators = new Map<string, Uint8Array>();

/**
 * The EIP-712 digest of `message`, the same bytes as viem's `hashTypedData`, computed without its per-call
 * validation and ABI encoding where that cannot change the answer: for a struct whose fields are all `uintN` or
 * `bytes32`, with a domain seen before (validated by viem the first time), and values that are bigints in range and
 * 32-byte hex strings. Anything else goes through `hashTypedData` itself, so it throws or hashes exactly as viem does.
 */
export function typedDataDigest(
  domain: TypedDataDomain,
  types: Readonly<Record<string, readonly TypedField[]>>,
  primaryType: string,
  message: Readonly<Record<string, unknown>>,
): Hex {
  const struct = compiledStruct(types, primaryType);
  const separator = struct && domainSeparatorOf(domain);
  const encoded = struct && separator && encodeStruct(struct, message);
  if (!encoded || !separator)
    return hashTypedData({ domain, types, primaryType, message } as Parameters<typeof hashTypedData>[0]);
  const digestInput = new Uint8Array(66);
  digestInput[0] = 0x19;
  digestInput[1] = 0x01;
  digestInput.set(separator, 2);
  digestInput.set(keccak256Bytes(encoded), 34);
  return keccak256Hex(digestInput);
}

function compiledStruct(
  types: Readonly<Record<string, readonly TypedField[]>>,
  primaryType: string,
): CompiledStruct | null {
  let byPrimary = compiled.get(types);
  if (!byPrimary) {
    byPrimary = new Map();
    compiled.set(types, byPrimary);
  }
  let struct = byPrimary.get(primaryType);
  if (struct === undefined) {
    struct = compile(types, primaryType);
    byPrimary.set(primaryType, struct);
  }
  return struct;
}

/** Null when the struct is not flat `uintN`/`bytes32` fields (viem then does all the work). */
function compile(
  types: Readonly<Record<string, readonly TypedField[]>>,
  primaryType: string,
): CompiledStruct | null {
  const own = Object.hasOwn(types, primaryType) ? types[primaryType] : undefined;
  if (!own || primaryType === "EIP712Domain" || Object.hasOwn(types, "EIP712Domain")) return null;
  const fields: CompiledStruct["fields"] = [];
  for (const field of own) {
    const uint = /^uint(\d+)$/.exec(field.type);
    const bits = uint ? Number(uint[1]) : 0;
    if (uint && bits >= 8 && bits <= 256 && bits % 8 === 0 && String(bits) === uint[1])
      fields.push({ name: field.name, below: 1n << BigInt(bits) });
    else if (field.type === "bytes32") fields.push({ name: field.name, below: 0n });
    else return null;
  }
  const signature = `${primaryType}(${own.map((f) => `${f.type} ${f.name}`).join(",")})`;
  return { typeHash: keccak256Bytes(stringToBytes(signature)), fields };
}

/** The domain's separator, validated and hashed by viem once per distinct domain; undefined if viem refuses it. */
function domainSeparatorOf(domain: TypedDataDomain): Uint8Array | undefined {
  if (typeof domain !== "object" || domain === null) return undefined;
  const { name, version, chainId, verifyingContract, salt } = domain;
  const key = JSON.stringify([name, version, chainId, verifyingContract, salt].map(typed));
  const known = separators.get(key);
  if (known) return known;
  try {
    const types = { EIP712Domain: getTypesForEIP712Domain({ domain }) };
    const definition = { domain, types, primaryType: "EIP712Domain", message: {} };
    validateTypedData(definition as unknown as Parameters<typeof validateTypedData>[0]);
    const separator = hexToBytes(hashDomain(definition as unknown as Parameters<typeof hashDomain>[0]));
    if (separators.size >= MAX_DOMAINS) separators.clear();
    separators.set(key, separator);
    return separator;
  } catch {
    return undefined;
  }
}

const typed = (value: unknown) => [typeof value, String(value)];

/** The struct's `encodeData` (type hash then one word per field), or undefined for any value off the fast path. */
function encodeStruct(
  struct: CompiledStruct,
  message: Readonly<Record<string, unknown>>,
): Uint8Array | undefined {
  const out = new Uint8Array(32 * (struct.fields.length + 1));
  out.set(struct.typeHash, 0);
  let offset = 32;
  for (const { name, below } of struct.fields) {
    const value = Object.hasOwn(message, name) ? message[name] : undefined;
    if (below === 0n) {
      if (typeof value !== "string" || !BYTES32.test(value)) return undefined;
      out.set(hexToBytes(value as Hex), offset);
    } else {
      if (typeof value !== "bigint" || value < 0n || value >= below) return undefined;
      let rest = value;
      for (let i = offset + 31; rest > 0n; i--) {
        out[i] = Number(rest & 0xffn);
        rest >>= 8n;
      }
    }
    offset += 32;
  }
  return out;
}
