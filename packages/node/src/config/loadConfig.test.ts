import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../errors.js";
import { configOptions, envName } from "./env.js";
import { loadNodeConfig } from "./loadConfig.js";
import { printableConfig, redactUrl } from "./redact.js";

const dir = mkdtempSync(join(tmpdir(), "atoma-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const minimal = `
[chain]
rpcUrl = "http://127.0.0.1:8545"
chainId = 31337
contracts = { AtomaToken = "0x5FbDB2315678afecb367f032d93F642f64180aa3" }

[node]
keyFile = "keys/node.key"

[model]
path = "models/tiny.gguf"
`;

function writeConfig(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("loadNodeConfig", () => {
  it("applies documented defaults and resolves paths against the file's directory", () => {
    const config = loadNodeConfig({ file: writeConfig("minimal.toml", minimal), env: {} });
    expect(config.chain).toMatchObject({
      chainId: 31337,
      confirmations: 0,
      maxBlockRange: 2000,
      startBlock: 0,
    });
    expect(config.node).toMatchObject({ host: "127.0.0.1", port: 8080, keyFile: join(dir, "keys/node.key") });
    expect(config.node.dataDir).toBe(join(dir, ".atoma/node"));
    expect(config.database).toEqual({ kind: "embedded", dir: join(dir, ".atoma/node/db") });
    expect(config.blobs.dir).toBe(join(dir, ".atoma/node/blobs"));
    expect(config.model).toMatchObject({ id: "tiny", path: join(dir, "models/tiny.gguf"), engine: {} });
    expect(config.limits.maxBodyBytes).toBe(1_048_576);
    expect(config.settlement).toMatchObject({ autoClaim: true, minRemainingUnits: 0 });
    expect(config.metrics.enabled).toBe(true);
  });

  // Review challenges MEDIUM-2: with 0 confirmations on a chain that reorganises, the attestation poster vouched
  // for a post a one-block reorg could drop, and anyone holding its statement had the node slashed.
  it("refuses 0 confirmations, or none given, off a dev chain", () => {
    const file = writeConfig("real-chain.toml", minimal);
    const unset = configError(() => loadNodeConfig({ file, env: { ATOMA_NODE_CHAIN_CHAIN_ID: "8453" } }));
    expect(unset.message).toMatch(/chain\.confirmations.*required off a dev chain/);
    const zero = configError(() =>
      loadNodeConfig({
        file,
        env: { ATOMA_NODE_CHAIN_CHAIN_ID: "8453", ATOMA_NODE_CHAIN_CONFIRMATIONS: "0" },
      }),
    );
    expect(zero.message).toMatch(/chain\.confirmations.*at least 1 off a dev chain/);
    const dev = loadNodeConfig({ file, env: { ATOMA_NODE_CHAIN_CONFIRMATIONS: "0" } });
    expect(dev.chain.confirmations).toBe(0);
  });

  it("lets every option be set from the environment, over the file", () => {
    const config = loadNodeConfig({
      file: writeConfig("env.toml", minimal),
      env: {
        ATOMA_NODE_CHAIN_CHAIN_ID: "8453",
        ATOMA_NODE_CHAIN_CONFIRMATIONS: "12",
        ATOMA_NODE_CHAIN_CONTRACTS: '{"Stacks":"0x0000000000000000000000000000000000000001"}',
        ATOMA_NODE_NODE_PORT: "0",
        ATOMA_NODE_DATABASE_URL: "postgres://atoma:s3cret@db.internal:5432/atoma",
        ATOMA_NODE_DATABASE_SCHEMA: "node_a",
        ATOMA_NODE_METRICS_ENABLED: "false",
        ATOMA_NODE_SETTLEMENT_MAX_FEE_PER_GAS: "123456789012345678901",
        ATOMA_NODE_MODEL_ENGINE: '{"threads":1}',
        ATOMA_NODE_LIMITS_MAX_QUEUE_LENGTH: "",
      },
    });
    expect(config.chain.chainId).toBe(8453);
    expect(config.chain.confirmations).toBe(12);
    expect(config.chain.contracts).toEqual({ Stacks: "0x0000000000000000000000000000000000000001" });
    expect(config.node.port).toBe(0);
    expect(config.database).toEqual({
      kind: "postgres",
      url: "postgres://atoma:s3cret@db.internal:5432/atoma",
      schema: "node_a",
      poolSize: 10,
    });
    expect(config.metrics.enabled).toBe(false);
    expect(config.settlement.maxFeePerGas).toBe(123456789012345678901n);
    expect(config.model.engine).toEqual({ threads: 1 });
    expect(config.limits.maxQueueLength).toBe(64);
  });

  it("works from the environment alone", () => {
    const config = loadNodeConfig({
      env: {
        ATOMA_NODE_CHAIN_RPC_URL: "ws://127.0.0.1:8545",
        ATOMA_NODE_CHAIN_CHAIN_ID: "31337",
        ATOMA_NODE_NODE_KEY_FILE: "/etc/atoma/node.key",
        ATOMA_NODE_MODEL_PATH: "/models/llama.Q4.gguf",
      },
    });
    expect(config.node.keyFile).toBe("/etc/atoma/node.key");
    expect(config.model.id).toBe("llama.Q4");
  });

  it("takes model.source (hf:) in place of a path: downloaded under the data directory unless a path is given", () => {
    const sourced = minimal.replace(
      'path = "models/tiny.gguf"',
      'source = "hf:org/repo/sub/Qwen2.5-0.5B.Q4.gguf"',
    );
    const config = loadNodeConfig({ file: writeConfig("source.toml", sourced), env: {} });
    expect(config.model).toMatchObject({
      id: "Qwen2.5-0.5B.Q4",
      source: "hf:org/repo/sub/Qwen2.5-0.5B.Q4.gguf",
      path: join(dir, ".atoma/node/models/org/repo/Qwen2.5-0.5B.Q4.gguf"),
    });
    const neither = minimal.replace('path = "models/tiny.gguf"', 'id = "x"');
    expect(
      configError(() => loadNodeConfig({ file: writeConfig("neither.toml", neither), env: {} })).shortMessage,
    ).toMatch(/model\.path .*give path \(a GGUF file\) or source/i);
    const bad = minimal.replace('path = "models/tiny.gguf"', 'source = "https://example.com/x.gguf"');
    expect(
      configError(() => loadNodeConfig({ file: writeConfig("badsource.toml", bad), env: {} })).shortMessage,
    ).toMatch(/model\.source \(ATOMA_NODE_MODEL_SOURCE\) must look like hf:/);
  });

  it("names a missing option and its variable", () => {
    const error = configError(() =>
      loadNodeConfig({
        file: writeConfig("missing.toml", minimal.replace(/chainId = 31337\n/, "")),
        env: {},
      }),
    );
    expect(error.shortMessage).toBe("option chain.chainId (ATOMA_NODE_CHAIN_CHAIN_ID) is required");
  });

  it("names a bad option and says why, listing every problem", () => {
    const text = minimal
      .replace("chainId = 31337", 'chainId = "x"')
      .replace("[node]", "[node]\nport = 70000");
    const error = configError(() => loadNodeConfig({ file: writeConfig("bad.toml", text), env: {} }));
    expect(error.shortMessage).toMatch(
      /^option chain\.chainId \(ATOMA_NODE_CHAIN_CHAIN_ID\) invalid input.*\(and 1 more problems\)$/,
    );
    expect(error.details).toMatch(/option node\.port \(ATOMA_NODE_NODE_PORT\) too big/);
  });

  it("rejects unknown options and unknown ATOMA_NODE_ variables (typos)", () => {
    const typo = minimal.replace("[node]", "[node]\nkeyfile = 'x'");
    expect(
      configError(() => loadNodeConfig({ file: writeConfig("typo.toml", typo), env: {} })).shortMessage,
    ).toBe("unknown option node.keyfile");
    expect(
      configError(() =>
        loadNodeConfig({ file: writeConfig("ok.toml", minimal), env: { ATOMA_NODE_CHAIN_RPCURL: "x" } }),
      ).shortMessage,
    ).toBe("unknown environment variable ATOMA_NODE_CHAIN_RPCURL");
    expect(
      configError(() =>
        loadNodeConfig({ file: writeConfig("ok2.toml", minimal), env: { ATOMA_NODE_NODE_PORT: "eighty" } }),
      ).shortMessage,
    ).toBe("ATOMA_NODE_NODE_PORT (option node.port) must be a number");
  });

  it("never echoes a secret value in its errors", () => {
    const secret = "postgres://atoma:hunter2@db:5432/x";
    const error = configError(() =>
      loadNodeConfig({
        file: writeConfig("secret.toml", `${minimal}\n[database]\nurl = "${secret}"\npoolSize = 0\n`),
        env: {},
      }),
    );
    expect(error.message).toContain("database.poolSize");
    expect(error.message).not.toContain("hunter2");
    const syntax = configError(() =>
      loadNodeConfig({ file: writeConfig("syntax.toml", `[database]\nurl = "${secret}\n`), env: {} }),
    );
    expect(syntax.shortMessage).toMatch(/is not valid TOML at line 2/);
    expect(syntax.message).not.toContain("hunter2");
    const notUrl = configError(() =>
      loadNodeConfig({
        file: writeConfig("ok3.toml", minimal),
        env: { ATOMA_NODE_DATABASE_URL: "mysql://u:hunter2@x" },
      }),
    );
    expect(notUrl.shortMessage).toMatch(
      /option database\.url \(ATOMA_NODE_DATABASE_URL\) must be a postgres/,
    );
    expect(notUrl.message).not.toContain("hunter2");
  });

  it("picks the embedded engine and its sync level from the environment, and refuses any other", () => {
    const config = loadNodeConfig({
      file: writeConfig("engine.toml", minimal),
      env: { ATOMA_NODE_DATABASE_ENGINE: "pglite", ATOMA_NODE_DATABASE_SYNCHRONOUS: "normal" },
    });
    expect(config.database).toEqual({
      kind: "embedded",
      dir: join(dir, ".atoma/node/db"),
      engine: "pglite",
      synchronous: "normal",
    });
    const off = configError(() =>
      loadNodeConfig({
        file: writeConfig("engine2.toml", minimal),
        env: { ATOMA_NODE_DATABASE_SYNCHRONOUS: "off" },
      }),
    );
    expect(off.shortMessage).toMatch(/database\.synchronous \(ATOMA_NODE_DATABASE_SYNCHRONOUS\)/);
  });

  it("reports an unreadable file by name", () => {
    expect(configError(() => loadNodeConfig({ file: join(dir, "absent.toml"), env: {} })).shortMessage).toBe(
      `cannot read config file ${join(dir, "absent.toml")} (ENOENT)`,
    );
  });
});

describe("configuration options", () => {
  it("give every option a distinct ATOMA_NODE_ variable", () => {
    const options = configOptions();
    expect(options.length).toBeGreaterThan(30);
    expect(new Set(options.map((option) => option.env)).size).toBe(options.length);
    expect(envName("chain", "rpcUrl")).toBe("ATOMA_NODE_CHAIN_RPC_URL");
    expect(options.find((option) => option.path === "settlement.maxFeePerGas")?.kind).toBe("string");
    expect(options.find((option) => option.path === "chain.contracts")?.kind).toBe("json");
  });
});

describe("redaction", () => {
  it("hides passwords, token usernames and query values", () => {
    expect(redactUrl("postgres://atoma:s3cret@db:5432/atoma")).toBe("postgres://atoma:***@db:5432/atoma");
    expect(redactUrl("https://key123@rpc.example/v1")).toBe("https://***@rpc.example/v1");
    expect(redactUrl("https://rpc.example/v1?apikey=abc")).toBe("https://rpc.example/v1?apikey=***");
    expect(redactUrl("not a url s3cret")).toBe("***");
  });

  it("prints a configuration without its secrets", () => {
    const config = loadNodeConfig({
      file: writeConfig("print.toml", minimal),
      env: { ATOMA_NODE_DATABASE_URL: "postgres://atoma:s3cret@db:5432/atoma" },
    });
    const printed = JSON.stringify(printableConfig(config));
    expect(printed).not.toContain("s3cret");
    expect(printed).not.toContain("node.key");
    expect(printed).toContain("postgres://atoma:***@db:5432/atoma");
  });
});
