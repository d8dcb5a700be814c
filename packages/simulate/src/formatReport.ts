import type { SimulationResult } from "./runSimulation.js";

const f = (value: number, digits = 4) => (Number.isFinite(value) ? value.toPrecision(digits) : String(value));
const pct = (value: number) => `${(value * 100).toFixed(0)} %`;

/** The human-readable report `atoma econ simulate` prints. */
export function formatReport(result: SimulationResult, plotPath: string | undefined): string {
  const o = result.options;
  const { crossing, targets } = result;
  const how =
    o.strategy === "over-claim"
      ? `settling the whole stack when the buyer used half; owners audit ${pct(o.ownerAudit)} of settlements`
      : `cheaper model on ${pct(o.cheatShare)} of requests, saving ${pct(o.saving)} of C`;
  const lines = [
    `Monte Carlo through the deployed contracts: ${o.nodes} nodes, ${result.cheaters} cheating (${how})`,
    `R = ${o.reward}, C = ${o.cost}, S = ${o.collateral} TOMA per stack; r = ${o.adversary}; N = ${o.attesters} attester(s), ${o.sampleSize} of ${o.requests} requests checked; ${o.stacks} stacks per rate; seed ${o.seed}`,
    `computed p*: Corollary 1 ${f(targets.corollary)}, Theorem A.3 ${f(targets.theorem)}, Corollary 1 for ${o.nodes} nodes (attesters drawn among the others) ${f(targets.finiteNetwork)}${targets.privateSelection === undefined ? "" : `; with private VRF self-selection (docs/vrf.md; not what these contracts draw yet) ${f(targets.privateSelection)}`}`,
    ...(o.strategy === "over-claim"
      ? [
          "over-claiming is invisible to attesters (they check responses, not units): only the owner's challenge",
          `catches it, and it stops paying when owners audit more than R / (2R + S) = ${f(o.reward / (2 * o.reward + o.collateral))} of settlements`,
        ]
      : []),
    "",
    "       p  stacks  cheats  checked  caught  detection [95 % CI]     honest/stack  cheater/stack",
  ];
  for (const pt of result.points) {
    lines.push(
      [
        pt.p.toFixed(4).padStart(8),
        String(pt.stacks).padStart(7),
        String(pt.cheats).padStart(7),
        String(pt.checkedCheats).padStart(8),
        String(pt.caught).padStart(7),
        `  ${pt.detectionRate.toFixed(3)} [${pt.detectionInterval.low.toFixed(3)}, ${pt.detectionInterval.high.toFixed(3)}]`.padEnd(
          26,
        ),
        f(pt.honest.profitPerStack).padStart(12),
        f(pt.cheater.profitPerStack).padStart(14),
      ].join(" "),
    );
  }
  lines.push("");
  if (crossing.p === undefined) {
    lines.push(
      "cheater profit per stack never fell below the honest nodes' in this sweep (widen it or add stacks)",
    );
  } else {
    const low = crossing.low === undefined ? "?" : f(crossing.low, 3);
    const high = crossing.high === undefined ? "?" : f(crossing.high, 3);
    const within = (p: number) =>
      crossing.low !== undefined && p >= crossing.low && (crossing.high === undefined || p <= crossing.high);
    const where = (p: number) => (within(p) ? "inside" : "outside");
    const between =
      crossing.interpolated === undefined
        ? ""
        : `; between sweep points it first falls at ${f(crossing.interpolated, 3)}`;
    lines.push(
      `cheating stops paying at p ≈ ${f(crossing.p, 3)} (95 % binomial interval ${low} – ${high}; least-squares line through the sweep${between})`,
      `  computed p* ${f(targets.corollary, 3)} is ${where(targets.corollary)} it; for this finite network ${f(targets.finiteNetwork, 3)}, ${where(targets.finiteNetwork)}`,
    );
  }
  const cheats = result.points.filter((pt) => pt.p > 0).reduce((sum, pt) => sum + pt.cheats, 0);
  const caught = result.points.filter((pt) => pt.p > 0).reduce((sum, pt) => sum + pt.caught, 0);
  lines.push(
    `detection over p > 0: ${caught} of ${cheats} cheats caught${crossing.detectionPerP === undefined ? "" : `, ${f(crossing.detectionPerP, 3)} per unit of p (1 − r^N = ${f(1 - o.adversary ** o.attesters, 3)})`}`,
    `speed: ${result.stacks} stacks in ${result.seconds.toFixed(1)} s = ${result.stacksPerSecond.toFixed(1)} stacks/s (${result.transactions} transactions, ${result.stallNudges} stall nudges)`,
  );
  if (plotPath) lines.push(`plot written to ${plotPath}`);
  lines.push("");
  return lines.join("\n");
}
