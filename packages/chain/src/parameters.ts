import type { Address } from "viem";

const TOMA = 10n ** 18n;
const MINUTE = 60n;
const HOUR = 3_600n;
const DAY = 86_400n;

/** Every deployment parameter of the system; each contract checks its bounds and names the one it refuses. */
export interface DeployParameters {
  /** Seconds per epoch: fees are claimable, and collateral withdrawable, from the epoch after. */
  epochLength: bigint;
  /** TOMA minted once, at deployment, to the genesis recipient; afterwards only the emission schedule mints. */
  token: { genesisSupply: bigint };
  node: {
    minCollateral: bigint;
    /** Reputation points per honest settlement (new nodes start at zero). */
    honestReward: number;
    timeoutPenalty: number;
    /** Share of a node's collateral slashed for a missed deadline, in bps (at most 5000). */
    timeoutSlashBps: number;
    timeoutUserBps: number;
    timeoutTreasuryBps: number;
    fraudUserBps: number;
    fraudHonestBps: number;
    fraudTreasuryBps: number;
  };
  model: { minCollateral: bigint; maxFeeBps: number; mismatchThreshold: number; whitelistRequired: boolean };
  task: {
    minReplicationPpm: number;
    maxSubscribersPerTask: number;
    maxSubscriptionsPerNode: number;
    maxAttesters: number;
    maxSampleSize: number;
    /** The least collateral a subscription bonds (one stake backs a bounded number of subscriptions). */
    minSubscriptionCollateral: bigint;
    /**
     * Seconds leaving takes: a subscription stays a checking candidate (attester, committee) with its bond for
     * this long after `unsubscribe`, and collateral is withdrawable this long after deregistration and after the
     * node's last obligation. At least a day, never lowered, and at least the longest path from a purchase to its
     * dispute committee (an hour's draw limit + `stack.maxDuration` + `stack.settleWindow` + the settlement's
     * span: `(maxReplacements + 1) × (commitWindow + 2 h) + dataWindow + commitWindow + revealWindow`), which the
     * contracts check.
     */
    exitNotice: bigint;
  };
  /** Share of every fee burned as it is credited (at most 5000); what a fee burned is what earns emission. */
  vault: { feeBurnBps: number };
  stack: {
    minDuration: bigint;
    maxDuration: bigint;
    settleWindow: bigint;
    maxUnits: bigint;
    surchargeBps: number;
    /** Share of a stack's price its owner pays however little it uses, to the treasury, in bps. */
    minChargeBps: number;
    /** Committee members a dispute needs at least: with a task's attesters, how many other nodes must share a
     * node's echelon for it to be sold on a verified task. The DisputeManager's `minCommittee`, read at each
     * purchase, applies when it is higher. */
    minCommittee: number;
  };
  settlement: {
    commitWindow: bigint;
    revealWindow: bigint;
    dataWindow: bigint;
    disputeWindow: bigint;
    maxReplacements: number;
  };
  evidence: {
    /** Longest request body (canonical JSON bytes) a node accepts, so a server can always post it on-chain. */
    maxRequestBytes: number;
  };
  dispute: {
    committeeSize: number;
    /** Fewest members a committee may have (odd); with fewer eligible nodes the committee is drawn again. */
    minCommittee: number;
    /** Draws before a dispute ends without a committee (the server is then not paid). */
    drawRounds: number;
    commitWindow: bigint;
    /** Time to reveal a vote and show the outputs behind it. */
    revealWindow: bigint;
    /** Time the server has to post the disputed requests on-chain. */
    evidenceWindow: bigint;
    /** Wait before drawing a committee again. */
    redrawDelay: bigint;
    /** Largest request body or output one post carries: governance may raise it, never lower it. */
    maxEvidenceBytes: number;
  };
  challenge: {
    /** Time a node has to prove a challenged leaf is under its root. */
    answerWindow: bigint;
    maxChallengesPerStack: number;
    /** Paid by an owner for a challenge that needs an answer; the node's when it answers. */
    challengeBond: bigint;
  };
  consensus: {
    commitWindow: bigint;
    deliveryWindow: bigint;
    maxCallbackGas: number;
    maxPromptBytes: number;
    maxOutputBytes: number;
    maxNodes: number;
  };
  /**
   * Confidential tasks (security level 3). `maxValidity`: seconds an attestation record may stay current after it
   * is posted (nodes re-attest each epoch; 1 hour to 30 days). `devNetwork`: accept dev-kind records (no hardware
   * behind them) on every task; refused unless set, for a development network only.
   */
  attestation: { maxValidity: bigint; devNetwork: boolean };
  emission: {
    initialEmission: bigint;
    tailEmission: bigint;
    decayBps: number;
    nodeShareBps: number;
    modelShareBps: number;
    treasuryBps: number;
    /**
     * A node's emission per epoch is at most this share of what its fees burned: at most 10000 (1×), a bound the
     * contract enforces, so a fee a node pays itself never brings back more emission than it burned.
     */
    maxEmissionPerBurnBps: number;
    /** ... and at most this share of its stake, the lowest collateral it held in the epoch (at most 1000). */
    maxStakeYieldBps: number;
  };
}

/**
 * Defaults suited to a local dev chain, where tests and `atoma dev` move time with anvil: one-hour epochs,
 * minutes-long protocol windows, a genesis supply of 1B TOMA, 1,000 TOMA minimum collateral and 100 TOMA per
 * subscription, the whitepaper's replication rate floor (0.8 %, 8,000 ppm) for cross-validated tasks, a 10 %
 * verification surcharge, a 10 % minimum charge on a stack (to the treasury), request bodies of at most 128 KiB,
 * committees of three, slashing 5 % of collateral per missed deadline (half to the user, a quarter to the
 * treasury, the rest burned) and all of it for fraud (30 % user, 30 % honest nodes, 20 % treasury, 20 % burned),
 * 5 % of every fee burned, and an emission of 1M TOMA per epoch decaying 1 % per epoch to a 10k tail (70 % nodes,
 * 10 % model owners, 20 % treasury), a node's part at most twice what its fees burned and 1 % of its stake per
 * epoch.
 */
export const devParameters: DeployParameters = {
  epochLength: HOUR,
  token: { genesisSupply: 1_000_000_000n * TOMA },
  node: {
    minCollateral: 1_000n * TOMA,
    honestReward: 1,
    timeoutPenalty: 10,
    timeoutSlashBps: 500,
    timeoutUserBps: 5_000,
    timeoutTreasuryBps: 2_500,
    fraudUserBps: 3_000,
    fraudHonestBps: 3_000,
    fraudTreasuryBps: 2_000,
  },
  model: { minCollateral: 100n * TOMA, maxFeeBps: 2_000, mismatchThreshold: 3, whitelistRequired: false },
  task: {
    minReplicationPpm: 8_000,
    maxSubscribersPerTask: 128,
    maxSubscriptionsPerNode: 32,
    maxAttesters: 8,
    maxSampleSize: 32,
    minSubscriptionCollateral: 100n * TOMA,
    // 30-day stacks, a 10-minute settle window and ~6.5 h of settlement windows fit in 31 days.
    exitNotice: 31n * DAY,
  },
  vault: { feeBurnBps: 500 },
  stack: {
    minDuration: MINUTE,
    maxDuration: 30n * DAY,
    settleWindow: 10n * MINUTE,
    maxUnits: 10n ** 12n,
    surchargeBps: 1_000,
    minChargeBps: 1_000,
    // A dev network runs a handful of nodes; a production deployment sets the dispute committee's size. A sale
    // leaves room for the larger of this and `dispute.minCommittee`.
    minCommittee: 1,
  },
  settlement: {
    commitWindow: 5n * MINUTE,
    revealWindow: 5n * MINUTE,
    dataWindow: 5n * MINUTE,
    disputeWindow: 10n * MINUTE,
    maxReplacements: 2,
  },
  evidence: { maxRequestBytes: 131_072 },
  dispute: {
    committeeSize: 3,
    // One, so that `atoma dev`'s three nodes sell the verified task (server, attester and a committee of one): a
    // stack is sold only where its dispute can draw this many, and a dispute in a thin dev echelon is decided by
    // the members it has (up to `committeeSize`). A production deployment sets it to its committee's size.
    minCommittee: 1,
    drawRounds: 3,
    commitWindow: 5n * MINUTE,
    revealWindow: 5n * MINUTE,
    evidenceWindow: 5n * MINUTE,
    redrawDelay: HOUR,
    maxEvidenceBytes: 131_072,
  },
  challenge: {
    answerWindow: 5n * MINUTE,
    maxChallengesPerStack: 8,
    challengeBond: 1n * TOMA,
  },
  consensus: {
    commitWindow: 5n * MINUTE,
    deliveryWindow: 5n * MINUTE,
    maxCallbackGas: 1_000_000,
    maxPromptBytes: 16_384,
    maxOutputBytes: 16_384,
    maxNodes: 16,
  },
  // Two epochs: a node re-attests each epoch, with one to spare.
  attestation: { maxValidity: 2n * HOUR, devNetwork: false },
  emission: {
    initialEmission: 1_000_000n * TOMA,
    tailEmission: 10_000n * TOMA,
    decayBps: 9_900,
    nodeShareBps: 7_000,
    modelShareBps: 1_000,
    treasuryBps: 2_000,
    maxEmissionPerBurnBps: 10_000,
    maxStakeYieldBps: 100,
  },
};

/** Parameters a caller overrides, section by section. */
export type ParameterOverrides = {
  [K in keyof DeployParameters]?: DeployParameters[K] extends object
    ? Partial<DeployParameters[K]> | undefined
    : DeployParameters[K] | undefined;
};

export function resolveParameters(overrides: ParameterOverrides = {}): DeployParameters {
  const merged = { ...devParameters } as Record<string, unknown>;
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    const base = (devParameters as unknown as Record<string, unknown>)[key];
    merged[key] = typeof value === "object" && typeof base === "object" ? { ...base, ...value } : value;
  }
  return merged as unknown as DeployParameters;
}

export interface DeployRoles {
  /** Receives DEFAULT_ADMIN_ROLE and GOVERNOR_ROLE on every contract. @default the deploying account */
  admin?: Address | undefined;
  /** Receives treasury shares of slashes and emissions. @default the admin */
  treasury?: Address | undefined;
  /** Receives the genesis supply. @default the admin */
  genesisRecipient?: Address | undefined;
}

/**
 * The bounds the contracts enforce on what a fee burns and what emission a burn and a stake can earn: the worst
 * parameters governance may set for wash trading (AtomaVault.MAX_FEE_BURN_BPS, EmissionSchedule's maxima).
 */
export const emissionBounds = {
  maxFeeBurnBps: 5_000,
  maxEmissionPerBurnBps: 10_000,
  maxStakeYieldBps: 1_000,
} as const;
