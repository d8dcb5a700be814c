import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KeyFileError, KeyFilePermissionError } from "../errors.js";
import { loadKeyFile, writeDevKeyFile } from "./keyFile.js";

const dir = mkdtempSync(join(tmpdir(), "atoma-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// anvil's first dev key: public knowledge, safe in a test.
const devKey = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const devAddress = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

function keyFile(name: string, content: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}

describe("loadKeyFile", () => {
  it("loads a hex key with or without 0x and surrounding whitespace", () => {
    expect(loadKeyFile(keyFile("a.key", `${devKey}\n`)).address).toBe(devAddress);
    expect(loadKeyFile(keyFile("b.key", `  ${devKey.slice(2).toUpperCase()}  `, 0o400)).address).toBe(
      devAddress,
    );
  });

  it("refuses a file its group or others can read", () => {
    for (const mode of [0o640, 0o604, 0o644, 0o660]) {
      const path = keyFile(`open-${mode.toString(8)}.key`, devKey, mode);
      expect(() => loadKeyFile(path)).toThrow(KeyFilePermissionError);
      expect(() => loadKeyFile(path)).toThrow(/chmod 600/);
    }
  });

  it("refuses what is not a key, without echoing it", () => {
    const cases = [
      ["short.key", devKey.slice(0, 40)],
      ["words.key", "correct horse battery staple"],
      ["zero.key", `0x${"0".repeat(64)}`],
      ["big.key", "a".repeat(1000)],
    ] as const;
    for (const [name, content] of cases) {
      const error = (() => {
        try {
          loadKeyFile(keyFile(name, content));
        } catch (e) {
          return e as Error;
        }
        throw new Error("expected an error");
      })();
      expect(error).toBeInstanceOf(KeyFileError);
      expect(error.message).not.toContain(content.slice(0, 20));
      expect(error.message).not.toContain(dir);
    }
    expect(() => loadKeyFile(join(dir, "absent.key"))).toThrow(/cannot be opened \(ENOENT\)/);
    const sub = join(dir, "a-directory");
    mkdirSync(sub, { mode: 0o700 });
    expect(() => loadKeyFile(sub)).toThrow(/not a regular file/);
  });
});

describe("writeDevKeyFile", () => {
  it("writes a fresh key with mode 0600 that loads back, and never overwrites by accident", async () => {
    const path = join(dir, "dev", "nested", "node.key");
    const written = await writeDevKeyFile(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(loadKeyFile(path).address).toBe(written.address);
    await expect(writeDevKeyFile(path)).rejects.toThrow(/cannot be written \(EEXIST\)/);
    chmodSync(path, 0o644);
    const again = await writeDevKeyFile(path, { privateKey: devKey, overwrite: true });
    expect(again.address).toBe(devAddress);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, "utf8")).toBe(`${devKey}\n`);
  });
});
