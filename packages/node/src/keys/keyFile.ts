import { closeSync, fchmodSync, fstatSync, openSync, readSync, writeSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { privateKeyAccount } from "@atoma/core";
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { KeyFileError, KeyFilePermissionError } from "../errors.js";

const PRIVATE_KEY = /^(0x)?([0-9a-fA-F]{64})$/;
/** A key file holds 66 characters and maybe a newline; anything much larger is not a key file. */
const MAX_KEY_FILE_BYTES = 256;

/**
 * Loads the node's signing key from a file holding one hex private key (with or without `0x`, surrounding
 * whitespace allowed). Refuses a file its group or others may read or write (`chmod 600` it), a file that is not
 * a regular file, and anything that is not a valid secp256k1 key. Errors never carry the file's content; they
 * name the option (`node.keyFile`) rather than the path.
 */
export function loadKeyFile(path: string): PrivateKeyAccount {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? "unreadable";
    throw new KeyFileError(`the key file (node.keyFile) cannot be opened (${code})`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new KeyFileError("the key file (node.keyFile) is not a regular file");
    if ((stat.mode & 0o077) !== 0)
      throw new KeyFilePermissionError(
        `the key file (node.keyFile) is accessible by group or others (mode ${(stat.mode & 0o777).toString(8).padStart(4, "0")}); run chmod 600 on it`,
      );
    if (stat.size > MAX_KEY_FILE_BYTES)
      throw new KeyFileError("the key file (node.keyFile) is too large to hold one private key");
    const buffer = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
    const length = readSync(fd, buffer, 0, buffer.length, 0);
    const text = buffer.subarray(0, length).toString("utf8").trim();
    buffer.fill(0);
    const match = PRIVATE_KEY.exec(text);
    if (!match) throw new KeyFileError("the key file (node.keyFile) does not hold a 32-byte hex private key");
    try {
      // Receipts are signed with libsecp256k1 where it loads (the same signatures, several times faster).
      return privateKeyAccount(`0x${match[2]!.toLowerCase()}`);
    } catch {
      throw new KeyFileError("the key file (node.keyFile) holds an invalid secp256k1 private key");
    }
  } finally {
    closeSync(fd);
  }
}

export interface DevKeyFile {
  path: string;
  address: `0x${string}`;
}

/**
 * Writes a fresh private key (or `privateKey`) to `path` with mode 0600, creating its directory (mode 0700).
 * Refuses to overwrite an existing file unless `overwrite` is set: a lost key loses the node's stake. For local
 * development; production keys come from the operator.
 */
export async function writeDevKeyFile(
  path: string,
  options: { privateKey?: `0x${string}` | undefined; overwrite?: boolean | undefined } = {},
): Promise<DevKeyFile> {
  const privateKey = options.privateKey ?? generatePrivateKey();
  const account = privateKeyToAccount(privateKey);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(path, options.overwrite ? "w" : "wx", 0o600);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? "unwritable";
    throw new KeyFileError(`the key file cannot be written (${code})`);
  }
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, `${privateKey}\n`);
  } finally {
    closeSync(fd);
  }
  return { path, address: account.address };
}
