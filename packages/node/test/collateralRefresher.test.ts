import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Collateral, NonceStore, verifyTdxQuote } from "@atoma/confidential";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CollateralRefresher } from "../src/confidential/collateralRefresher.js";
import { confidentialFromConfig } from "../src/confidential/confidentialConfig.js";
import { EvidenceSourceError } from "../src/confidential/errors.js";
import { parseNodeConfig } from "../src/config/loadConfig.js";
import { capturingLogger } from "./helpers/capturingLogger.js";

const fixtures = fileURLToPath(new URL("../../confidential/test/fixtures/dcap/", import.meta.url));
const quote = new Uint8Array(readFileSync(join(fixtures, "tdx_quote")));
const read = (name: string) => JSON.parse(readFileSync(join(fixtures, name), "utf8")) as Collateral;
const held = read("tdx_quote_collateral.json");
const otherPlatform = read("sgx_quote_collateral.json");
/** tdx_quote's collateral was issued 2025-06-19T10:16Z: clients take it for a week, so it is due two days before. */
const FRESH = Date.parse("2025-06-21T00:00:00Z");
const DUE = Date.parse("2025-06-25T00:00:00Z");

/**
 * A PCCS (Intel's PCS API v4, as @phala/dcap-qvl asks it) over a real socket, serving `serving` for every FMSPC:
 * `down` answers 500, `tamper` changes the TCB info after Intel signed it.
 */
interface Pccs {
  url: string;
  serving: Collateral;
  down: boolean;
  tamper: boolean;
  /** Hostile: the TCB info's headers, then its body one byte every 100 ms (never done within a test). */
  trickle: boolean;
  /** Trickling answers whose connection is still open. */
  dripping: number;
  /** Hostile: a 4 MiB TCB info body, chunked (no content-length). */
  huge: boolean;
  /** Hostile: no root CA CRL route, and the issuer chains name this PEM (its CRL address elsewhere). */
  chainElsewhere: string | undefined;
  /** Hostile: every answer a redirect to this address. */
  redirectTo: string | undefined;
  asked: string[];
  close: () => Promise<void>;
}

const hex = (value: Collateral[keyof Collateral]) =>
  typeof value === "string" ? value : Buffer.from(value as number[]).toString("hex");

async function startPccs(): Promise<Pccs> {
  const pccs: Pccs = {
    url: "",
    serving: held,
    down: false,
    tamper: false,
    trickle: false,
    dripping: 0,
    huge: false,
    chainElsewhere: undefined,
    redirectTo: undefined,
    asked: [],
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://pccs");
    pccs.asked.push(`${url.pathname}${url.search}`);
    if (pccs.down) {
      res.writeHead(500).end();
      return;
    }
    if (pccs.redirectTo) {
      res.writeHead(302, { location: pccs.redirectTo }).end();
      return;
    }
    const elsewhere = pccs.chainElsewhere;
    const c = elsewhere
      ? {
          ...pccs.serving,
          pck_crl_issuer_chain: elsewhere,
          tcb_info_issuer_chain: elsewhere,
          qe_identity_issuer_chain: elsewhere,
        }
      : pccs.serving;
    const path = url.pathname;
    if (path.endsWith("/certification/v4/tcb") && pccs.trickle) {
      res.writeHead(200, { "TCB-Info-Issuer-Chain": encodeURIComponent(c.tcb_info_issuer_chain) });
      res.write("{");
      const drip = setInterval(() => res.write(" "), 100);
      pccs.dripping++;
      res.on("close", () => {
        clearInterval(drip);
        pccs.dripping--;
      });
      return;
    }
    if (path.endsWith("/certification/v4/tcb") && pccs.huge) {
      res.writeHead(200, { "TCB-Info-Issuer-Chain": encodeURIComponent(c.tcb_info_issuer_chain) });
      const mib = Buffer.alloc(1024 * 1024, 0x20);
      for (let i = 0; i < 4; i++) res.write(mib);
      res.end();
      return;
    }
    if (path.endsWith("/sgx/certification/v4/rootcacrl") && elsewhere) {
      res.writeHead(404).end();
      return;
    }
    if (path.endsWith("/sgx/certification/v4/pckcrl")) {
      res.writeHead(200, { "SGX-PCK-CRL-Issuer-Chain": encodeURIComponent(c.pck_crl_issuer_chain) });
      res.end(Buffer.from(hex(c.pck_crl), "hex"));
    } else if (path.endsWith("/sgx/certification/v4/rootcacrl")) {
      res.writeHead(200).end(hex(c.root_ca_crl));
    } else if (path.endsWith("/certification/v4/tcb")) {
      const tcbInfo = pccs.tamper
        ? c.tcb_info.replace('"tcbEvaluationDataNumber":17', '"tcbEvaluationDataNumber":19')
        : c.tcb_info;
      res.writeHead(200, { "TCB-Info-Issuer-Chain": encodeURIComponent(c.tcb_info_issuer_chain) });
      res.end(`{"tcbInfo":${tcbInfo},"signature":"${hex(c.tcb_info_signature)}"}`);
    } else if (path.endsWith("/certification/v4/qe/identity")) {
      res.writeHead(200, {
        "SGX-Enclave-Identity-Issuer-Chain": encodeURIComponent(c.qe_identity_issuer_chain),
      });
      res.end(`{"enclaveIdentity":${c.qe_identity},"signature":"${hex(c.qe_identity_signature)}"}`);
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  pccs.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sgx/certification/v4/`;
  pccs.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return pccs;
}

let pccs: Pccs;
const root = mkdtempSync(join(tmpdir(), "atoma-collateral-"));
beforeAll(async () => {
  pccs = await startPccs();
});
afterEach(() => {
  pccs.down = false;
  pccs.tamper = false;
  pccs.trickle = false;
  pccs.huge = false;
  pccs.chainElsewhere = undefined;
  pccs.redirectTo = undefined;
  pccs.serving = held;
  pccs.asked.length = 0;
});
afterAll(async () => {
  await pccs?.close();
  rmSync(root, { recursive: true, force: true });
});

/** The collateral verifies the real quote at `now` (Intel's signatures, this platform, CRLs in date). */
const verifies = (collateral: Collateral, now: number) =>
  verifyTdxQuote(quote, collateral, { nowSeconds: Math.floor(now / 1000), allowedTcbStatuses: ["UpToDate"] });

describe("the node's Intel collateral, refreshed from a PCCS before it ages out", () => {
  it("fetches the first collateral for the node's own quote over HTTP; it verifies that quote", async () => {
    const lines: string[] = [];
    const refresher = new CollateralRefresher({
      pccsUrl: pccs.url,
      logger: capturingLogger(lines),
      now: () => FRESH,
    });
    const got = await refresher.collateral(quote);
    expect(pccs.asked).toEqual(
      expect.arrayContaining([
        "/sgx/certification/v4/pckcrl?ca=processor&encoding=der",
        "/tdx/certification/v4/tcb?fmspc=B0C06F000000",
        "/tdx/certification/v4/qe/identity?update=standard",
      ]),
    );
    expect(verifies(got, FRESH).tcbStatus).toBe("UpToDate");
    expect(refresher.dueAtMs).toBe(Date.parse("2025-06-24T10:16:03Z"));
  });

  it("serves the held collateral while it is fresh (no fetch), and refreshes it once it is due", async () => {
    let now = FRESH;
    const refresher = new CollateralRefresher({
      pccsUrl: pccs.url,
      initial: held,
      logger: capturingLogger([]),
      now: () => now,
    });
    expect(await refresher.collateral(quote)).toBe(held);
    expect(pccs.asked).toEqual([]);
    // Due: the held one is answered at once, and the refresh runs beside it.
    now = DUE;
    expect(await refresher.collateral(quote)).toBe(held);
    expect(await refresher.refresh()).toBe(true);
    expect(pccs.asked.length).toBeGreaterThan(0);
    expect(refresher.current).not.toBe(held);
    expect(verifies(refresher.current!, DUE).tcbStatus).toBe("UpToDate");
  });

  // Failure and attack: a PCCS that is down, one serving TCB info changed after Intel signed it, one serving another
  // platform's collateral. Each refresh fails, the held collateral is still served, and the next try waits retryMs.
  it("keeps the held collateral when a refresh fails or fetches collateral that does not verify the quote", async () => {
    let now = FRESH;
    const lines: string[] = [];
    const refresher = new CollateralRefresher({
      pccsUrl: pccs.url,
      initial: held,
      logger: capturingLogger(lines),
      now: () => now,
      retryMs: 60_000,
    });
    // The node quotes (the refresher learns its quote), then its collateral comes due.
    expect(await refresher.collateral(quote)).toBe(held);
    now = DUE;
    const failures: [string, () => void][] = [
      ["down", () => (pccs.down = true)],
      ["tampered TCB info", () => (pccs.tamper = true)],
      ["another platform's collateral", () => (pccs.serving = otherPlatform)],
    ];
    for (const [label, fail] of failures) {
      fail();
      expect({ label, replaced: await refresher.refresh() }).toEqual({ label, replaced: false });
      expect(refresher.current).toBe(held);
      expect(await refresher.collateral(quote)).toBe(held);
      // Within retryMs nothing is asked again.
      const asked = pccs.asked.length;
      expect(await refresher.refresh()).toBe(false);
      expect(pccs.asked.length).toBe(asked);
      now += 60_001;
      pccs.down = false;
      pccs.tamper = false;
      pccs.serving = held;
    }
    expect(lines.filter((line) => line.includes("refreshing the Intel collateral failed"))).toHaveLength(3);
    // The PCCS is well again: the next refresh replaces it.
    expect(await refresher.refresh()).toBe(true);
    expect(refresher.current).not.toBe(held);
  });

  // Review LOW-MEDIUM-4: Intel re-issues `update=standard` TCB info with fresh dates for an earlier evaluation. The
  // node holds evaluation 18 (tdx_quote_outdated's, dated before what the PCCS serves); the PCCS serves the genuine
  // evaluation-17 collateral issued later. Adopting it would make clients with minTcbEvaluationDataNumber 18 refuse
  // the node: it is kept.
  it("never adopts collateral from an earlier TCB evaluation, however fresh its dates", async () => {
    const outdated = read("tdx_quote_outdated_collateral.json");
    const redate = (text: string) =>
      text.replace(/"issueDate":"[^"]*"/, '"issueDate":"2025-06-01T00:00:00Z"');
    const at18 = {
      ...outdated,
      tcb_info: redate(outdated.tcb_info),
      qe_identity: redate(outdated.qe_identity),
    };
    expect(JSON.parse(at18.tcb_info)).toMatchObject({ tcbEvaluationDataNumber: 18 });
    expect(JSON.parse(held.tcb_info)).toMatchObject({ tcbEvaluationDataNumber: 17 });
    const lines: string[] = [];
    const refresher = new CollateralRefresher({
      pccsUrl: pccs.url,
      initial: at18,
      logger: capturingLogger(lines),
      now: () => DUE,
    });
    expect(await refresher.collateral(quote)).toBe(at18);
    expect(await refresher.refresh()).toBe(false);
    expect(refresher.current).toBe(at18);
    expect(lines.join("\n")).toContain("evaluation 17, earlier than the held 18");
  });

  // Review MEDIUM-3: a hostile or stalling PCCS. Each refresh fails in bounded time and memory, the held collateral is
  // still served, and a refresh is tried again after retryMs (a new one: never the hung one joined for good).
  it("a PCCS that trickles its body: each request times out, the refresh fails, and the next one runs anew", async () => {
    pccs.trickle = true;
    let now = DUE;
    const lines: string[] = [];
    const refresher = new CollateralRefresher({
      pccsUrl: pccs.url,
      initial: held,
      logger: capturingLogger(lines),
      now: () => now,
      retryMs: 60_000,
      pccsLimits: { timeoutMs: 400 },
    });
    expect(await refresher.collateral(quote)).toBe(held);
    const started = Date.now();
    expect(await refresher.refresh()).toBe(false);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(refresher.current).toBe(held);
    expect(lines.join("\n")).toContain("collateral_fetch_failed");
    // After retryMs a new refresh runs (the PCCS asked again), not the first one joined.
    now += 60_001;
    pccs.trickle = false;
    const asked = pccs.asked.length;
    expect(await refresher.refresh()).toBe(true);
    expect(pccs.asked.length).toBeGreaterThan(asked);
  });

  it("a refresh hung past fetchTimeoutMs (whatever it waits on) fails and is tried again after retryMs", async () => {
    pccs.trickle = true;
    let now = DUE;
    const refresher = new CollateralRefresher({
      pccsUrl: pccs.url,
      initial: held,
      logger: capturingLogger([]),
      now: () => now,
      retryMs: 60_000,
      fetchTimeoutMs: 400,
      pccsLimits: { timeoutMs: 60_000 },
    });
    expect(await refresher.collateral(quote)).toBe(held);
    const hung = refresher.refresh();
    expect(refresher.refresh()).toBe(hung);
    expect(await hung).toBe(false);
    expect(refresher.current).toBe(held);
    // The hung request was given up: its connection is closed, not left dripping into the node.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(pccs.dripping).toBe(0);
    now += 60_001;
    pccs.trickle = false;
    const again = refresher.refresh();
    expect(again).not.toBe(hung);
    expect(await again).toBe(true);
  });

  it("a PCCS answering a body larger than the cap is cut off: refused, the held collateral kept", async () => {
    pccs.huge = true;
    const lines: string[] = [];
    const refresher = new CollateralRefresher({
      pccsUrl: pccs.url,
      initial: held,
      logger: capturingLogger(lines),
      now: () => DUE,
    });
    expect(await refresher.collateral(quote)).toBe(held);
    expect(await refresher.refresh()).toBe(false);
    expect(refresher.current).toBe(held);
    expect(lines.join("\n")).toContain("larger than 1048576 bytes");
  });

  it("never fetches an address the PCCS names (a CRL address in its issuer chain, a redirect)", async () => {
    const spied: string[] = [];
    const spy = createServer((req, res) => {
      spied.push(req.url ?? "");
      res.writeHead(200).end(Buffer.from(hex(held.root_ca_crl), "hex"));
    });
    await new Promise<void>((resolve) => spy.listen(0, "127.0.0.1", resolve));
    const spyUrl = `http://127.0.0.1:${(spy.address() as AddressInfo).port}`;
    try {
      // A certificate whose CRL distribution point is the spy (openssl, here at run time).
      const dir = mkdtempSync(join(root, "evil-"));
      execFileSync("openssl", [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
        "-days",
        "1",
        "-subj",
        "/CN=evil",
        "-addext",
        `crlDistributionPoints=URI:${spyUrl}/root.crl`,
      ]);
      pccs.chainElsewhere = readFileSync(join(dir, "cert.pem"), "utf8");
      const refresher = new CollateralRefresher({
        pccsUrl: pccs.url,
        initial: held,
        logger: capturingLogger([]),
        now: () => DUE,
        retryMs: 0,
      });
      expect(await refresher.collateral(quote)).toBe(held);
      expect(await refresher.refresh()).toBe(false);
      pccs.chainElsewhere = undefined;
      pccs.redirectTo = `${spyUrl}/elsewhere`;
      expect(await refresher.refresh()).toBe(false);
      expect(spied).toEqual([]);
      expect(refresher.current).toBe(held);
    } finally {
      await new Promise((resolve) => spy.close(resolve));
    }
  });

  it("with nothing held and the PCCS down, quoting fails with EvidenceSourceError (the node's 503, for now)", async () => {
    pccs.down = true;
    const refresher = new CollateralRefresher({
      pccsUrl: pccs.url,
      logger: capturingLogger([]),
      now: () => FRESH,
    });
    await expect(refresher.collateral(quote)).rejects.toBeInstanceOf(EvidenceSourceError);
  });

  // Wired from the configuration: the node asks the PCCS for its own quote's collateral. At today's date the fixture's
  // collateral (July 2025) is long expired: the node refuses to adopt it, and its evidence is unavailable for now
  // (503), never served with expired collateral.
  it("confidential.pccsUrl: a tdx node fetches its quote's collateral from the PCCS, and never adopts expired collateral", async () => {
    const tsm = join(root, "tsm");
    mkdirSync(join(tsm, "atoma"), { recursive: true });
    writeFileSync(join(tsm, "atoma", "outblob"), quote);
    const lines: string[] = [];
    const raw = (pccsUrl: string) => ({
      chain: { rpcUrl: "http://127.0.0.1:8545", chainId: 31337 },
      node: { keyFile: "node.key" },
      model: { path: "tiny.gguf" },
      confidential: { kind: "tdx", tsmRoot: tsm, pccsUrl },
    });
    const config = parseNodeConfig(raw(pccs.url), root);
    const compute = confidentialFromConfig(
      config,
      "0x00000000000000000000000000000000000000aa",
      capturingLogger(lines),
    );
    await expect(compute!.forNonce(new NonceStore().issue())).rejects.toMatchObject({
      code: "attestation_unavailable",
    });
    expect(pccs.asked).toContain("/tdx/certification/v4/tcb?fmspc=B0C06F000000");
    const failed = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((l) => l.code);
    expect(failed).toMatchObject({ code: "attestation_collateral_expired" });
    expect(() =>
      parseNodeConfig({ ...config, confidential: { kind: "tdx", pccsUrl: "ftp://x" } }, root),
    ).toThrow();
  });
});
