import { type OnChainPrivateResult, THRESHOLD_Z } from "./privateSelectionOnChain.js";

const f = (value: number | undefined, digits = 4) =>
  value === undefined ? "-" : value === 0 ? "0" : value.toPrecision(digits);

/** The report of `atoma econ simulate --private-selection --through-contracts`. */
export function formatPrivateSelectionOnChain(result: OnChainPrivateResult): string {
  const o = result.options;
  const n = result.grid.length;
  const lines = [
    `Private VRF self-selection through the contracts: ${result.eligible} eligible nodes, ${result.colluding} the cheater's (${result.colluders}${result.colluders === "last-mover" ? `, ${result.lastMoverSeats} seats taken last` : ""}), ${o.lazy} lazy, N = ${o.attesters}; task at p = ${result.rate}; ${o.settlements} settlements, ${o.batch ?? 16} at a time; seed ${o.seed}`,
    `every node's VRF key registered, selected honest nodes seated by selfSelect with their proofs; contract seats differing from the VRF outputs: ${result.disagreements}`,
    `windows closed with nobody seated: ${result.noAttester}; fallbacks to public attesters: ${result.fallbacks}`,
    `caught at p = ${result.rate} (a diligent honest node seated): ${result.caught.count} of ${o.settlements}, formula ${f(result.caught.expected)}`,
    `margin (honest - cheating, TOMA per settlement) at p = ${result.rate}: ${f(result.margin.measured)} [${f(result.margin.low)}, ${f(result.margin.high)}] vs ${f(result.margin.expected)}`,
    `p*: private self-selection (random attester count, q = pN/n over n = ${result.eligible}) ${f(result.privateThreshold)}; last-mover colluders ${f(result.privateThresholdLastMover)}; public draw of N from this finite network ${f(result.publicThreshold)}`,
    `measured p* ${f(result.measured.p)}, interval [${f(result.measured.low)}, ${f(result.measured.high)}] (rates in (0, ${result.rate}] at ${n} points, z = ${THRESHOLD_Z} one-sided at each: misses with probability <= ${(2 * n * 2.9e-7).toExponential(1)}, normal approximation)`,
    `measured crossing with silent colluders ${f(result.crossings.silent)}, with last movers ${f(result.crossings.lastMover)} (same draws)`,
    result.within
      ? `the computed p* (${result.colluders} colluders) lies within the measured interval`
      : result.measured.high === undefined
        ? `the margin is nowhere surely positive up to p = ${result.rate}: no upper end (more --settlements or a higher --rate)`
        : `the computed p* (${result.colluders} colluders) lies OUTSIDE the measured interval`,
    "",
  ];
  return lines.join("\n");
}
