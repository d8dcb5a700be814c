import {
  drawAttesters,
  drawNode,
  evaluateSelection,
  registerVrfKey,
  requestStack,
  SecurityLevel,
  selfSelect,
  submitSettlement,
} from "@atoma/chain";
import { DEV_PRICE_PER_MILLION, type DevNode, startDevnet } from "@atoma/chain/devnet";
import { type Hex, keccak256, parseEther, toHex } from "viem";

export interface ThroughContracts {
  settlements: number;
  /** Settlements whose window closed with nobody selected. */
  empty: number;
  /** Settlements whose window closed with fewer than N seated: public attesters were added up to N. */
  toppedUp: number;
  /** Self-selections that landed, and the average gas of each `selfSelect` (its VRF verification included). */
  selections: number;
  selfSelectGas: number;
  registerGas: number;
}

/** `SettlementDraw.MIN_SELECTION_WINDOW`. */
const WINDOW = 60;

/**
 * Private self-selection run through the contracts on anvil: `nodes` nodes register VRF keys, a task at p = 1
 * with `attesters` attesters (every settlement must be checked: threshold N/n), and `settlements` stacks bought,
 * settled and put through their selection window, every candidate evaluating its VRF and the selected ones
 * committing with `selfSelect`.
 */
export async function selectionThroughContracts(
  settlements: number,
  nodes: number,
  attesters: number,
): Promise<ThroughContracts> {
  const network = await startDevnet({
    parameters: { task: { minReplicationPpm: 1 } },
    privateSelection: { window: WINDOW, cap: 32 },
  });
  try {
    const { advance, account } = network;
    const owner = await account();
    const { modelId } = await network.registerModel({ name: "atoma-tiny", owner: owner.ctx });
    const members: { node: DevNode; key: Hex }[] = [];
    let registerGas = 0;
    for (let i = 0; i < nodes; i++) {
      const node = await network.addNode();
      const key = keccak256(toHex(`bench vrf node ${i}`));
      const registered = await registerVrfKey(node.operator, { nodeId: node.nodeId, secretKey: key });
      registerGas = Number(registered?.gasUsed ?? 0n);
      members.push({ node, key });
    }
    const taskId = await network.addTask({
      modelId,
      securityLevel: SecurityLevel.CrossValidation,
      replicationPpm: 1_000_000,
      attesters,
      sampleSize: 1,
      nodes: members.map((m) => m.node),
    });
    await network.nextEpoch();
    const user = await account(parseEther("10000000"));
    const result: ThroughContracts = {
      settlements,
      empty: 0,
      toppedUp: 0,
      selections: 0,
      selfSelectGas: 0,
      registerGas,
    };
    let gas = 0n;
    for (let i = 0; i < settlements; i++) {
      const request = await requestStack(user.ctx, {
        taskId,
        units: 1_000n,
        maxPricePerMillion: DEV_PRICE_PER_MILLION,
        duration: 86_400n,
      });
      const drawn = await drawNode(user.ctx, request);
      if (drawn.outcome !== "drawn")
        throw new Error(`stack ${request.stackId}: no node drawn (${drawn.outcome})`);
      const server = members.find((m) => m.node.nodeId === drawn.nodeId);
      if (!server) throw new Error(`unknown node ${drawn.nodeId}`);
      const settled = await submitSettlement(
        server.node.signer,
        {
          stackId: request.stackId,
          root: keccak256(toHex(`root ${i}`)),
          units: 100n,
          requestCount: 1n,
          transcriptId: keccak256(toHex(`transcript ${i}`)),
        },
        { draw: false },
      );
      const candidates = "candidates" in settled ? settled.candidates : [];
      // The seed is the hash of the block after the settlement's: mined before the window can open.
      await advance(0);
      const opened = await drawAttesters(user.ctx, { stackId: request.stackId, candidates });
      if (opened.outcome !== "selectionOpened") throw new Error(`no selection window: ${opened.outcome}`);
      let seated = 0;
      for (const m of members) {
        if (!candidates.includes(m.node.nodeId)) continue;
        const evaluated = evaluateSelection(m.key, opened);
        if (!evaluated.selected) continue;
        const tx = await selfSelect(m.node.signer, {
          stackId: request.stackId,
          nodeId: m.node.nodeId,
          proof: evaluated,
          commitment: keccak256(toHex(`commitment ${i} ${m.node.nodeId}`)),
          candidates,
        });
        gas += tx.gasUsed;
        result.selections += 1;
        seated += 1;
      }
      await advance(WINDOW + 1);
      const closed = await drawAttesters(user.ctx, { stackId: request.stackId, candidates });
      if (closed.outcome === "fallback") result.toppedUp += 1;
      if (seated === 0) result.empty += 1;
    }
    result.selfSelectGas = result.selections > 0 ? Number(gas / BigInt(result.selections)) : 0;
    return result;
  } finally {
    await network.stop();
  }
}
