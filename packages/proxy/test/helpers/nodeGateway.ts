import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../../src/db/openGatewayDatabase.js";
import { createGatewayApp } from "../../src/gateway/createGatewayApp.js";
import type { GatewayParts } from "../../src/gateway/gatewayParts.js";
import { SealedCharges } from "../../src/limits/sealedCharges.js";
import { FreedLeaves } from "../../src/network/freedLeaves.js";
import type { NetworkUpstream, NetworkUpstreamOptions } from "../../src/network/networkUpstream.js";
import { type FakeNode, type FakeNodeOptions, type NodeScript, startFakeNode } from "./fakeNode.js";
import { gatewayParts } from "./gatewayParts.js";
import { serveApp } from "./servedApp.js";
import { type TestDatabaseConfig, testDatabases } from "./testDatabases.js";
import { RIG_CHAIN_ID, RIG_STACK_MANAGER, upstreamRig } from "./upstreamRig.js";

const embedded = testDatabases()[0]!;

/** What a rig's nodes charge per million units unless told otherwise. */
export const RIG_PRICE = 10n ** 15n;

/** The upstream's options a rig starts from: a node's first byte within 5 s, resent after 10 ms, a minute in all. */
export const RIG_UPSTREAM: NetworkUpstreamOptions = {
  firstByteTimeoutMs: 5_000,
  resendDelayMs: 10,
  requestTimeoutMs: 60_000,
};

/** One fake node of a rig (node ids 1, 2, … in order, each with its own signer). */
export interface RigNode {
  /** How it answers each request's body. */
  script: (body: Record<string, unknown>) => NodeScript;
  options?: FakeNodeOptions;
  /** @default RIG_PRICE (the cheapest node's stack is leased first) */
  price?: bigint;
}

/** A suite's gateway over fake nodes; filled in before the suite's first test runs. */
export interface NodeGateway {
  opened: OpenedDatabase;
  nodes: FakeNode[];
  /** The first node (`nodes[0]`). */
  node: FakeNode;
  upstream: NetworkUpstream;
  parts: GatewayParts;
  /** `nodeId:code` of every failure the gateway counted against a node. */
  nodeErrors: string[];
  /** With `served`: the gateway's app on a local port, its `/v1` base URL (for an OpenAI client). */
  baseURL: string;
}

/**
 * For one suite: the gateway's parts over a `NetworkUpstream` (with sealed charges) to `nodes`
 * started as fake nodes, each with one stack of a million units bought, on a fresh embedded database; all stopped after
 * the suite. The returned object is filled in (never replaced) before its first test.
 */
export function suiteNodeGateway(setup: {
  nodes: RigNode[];
  /** Over `RIG_UPSTREAM`. */
  upstream?: NetworkUpstreamOptions;
  /** Also serve the gateway's app over HTTP (`baseURL`). @default false */
  served?: boolean;
  /** Keep freed leaves (and the node's denials) in the rig's database, as the gateway does. @default in memory */
  freedLeavesInDb?: boolean;
}): NodeGateway {
  const rig = { nodes: [] as FakeNode[], nodeErrors: [] as string[] } as NodeGateway;
  let db: TestDatabaseConfig | undefined;
  let server: Awaited<ReturnType<typeof serveApp>> | undefined;
  beforeAll(async () => {
    db = embedded.make();
    rig.opened = await openGatewayDatabase(db.config);
    const signers = setup.nodes.map(() => privateKeyToAccount(generatePrivateKey()));
    for (const [i, node] of setup.nodes.entries())
      rig.nodes.push(
        await startFakeNode(
          signers[i]!,
          BigInt(i + 1),
          RIG_CHAIN_ID,
          RIG_STACK_MANAGER,
          node.script,
          node.options,
        ),
      );
    rig.node = rig.nodes[0]!;
    ({ upstream: rig.upstream } = await upstreamRig(
      rig.opened,
      privateKeyToAccount(generatePrivateKey()),
      rig.nodes.map((node, i) => ({
        url: node.url,
        signer: signers[i]!,
        price: setup.nodes[i]!.price ?? RIG_PRICE,
      })),
      { ...RIG_UPSTREAM, ...setup.upstream },
      1_000_000n,
      {
        sealedCharges: new SealedCharges(rig.opened.db),
        onNodeError: (nodeId, code) => rig.nodeErrors.push(`${nodeId}:${code}`),
        freedLeaves: setup.freedLeavesInDb ? new FreedLeaves(rig.opened.db) : undefined,
      },
    ));
    rig.parts = gatewayParts(rig.opened, rig.upstream);
    if (setup.served) {
      server = await serveApp(createGatewayApp(rig.parts));
      rig.baseURL = server.baseURL;
    }
  });
  afterAll(async () => {
    await server?.close();
    for (const node of rig.nodes) await node.stop();
    await rig.opened?.close();
    await db?.dispose();
  });
  return rig;
}
