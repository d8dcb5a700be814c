import { type PrivateSelectionResult, TOLERANCE_Z } from "./privateSelection.js";

const f = (value: number, digits = 4) => (value === 0 ? "0" : value.toPrecision(digits));
const rate = (r: { measured: number; expected: number; interval: { low: number; high: number } }) =>
  `${r.measured.toFixed(4)} [${r.interval.low.toFixed(4)}, ${r.interval.high.toFixed(4)}] vs ${r.expected.toFixed(4)}`;

const margin = (m: { measured: number; expected: number; interval: { low: number; high: number } }) =>
  `${f(m.measured)} [${f(m.interval.low)}, ${f(m.interval.high)}] vs ${f(m.expected)}`;

/** The report of `atoma econ simulate --private-selection`. */
export function formatPrivateSelection(result: PrivateSelectionResult): string {
  const o = result.options;
  const lines = [
    `Private VRF self-selection: ${result.eligible} eligible nodes, ${result.colluding} the cheater's (silent), ${o.lazy} lazy (copy), N = ${o.attesters}; ${o.settlements} settlements per rate; seed ${o.seed}; ${o.vrf ? "real ECVRF" : "keccak stand-in for the VRF output"}`,
    `p*: public draw of N ${f(result.publicThreshold)}, private self-selection ${f(result.privateThreshold)} (docs/vrf.md)`,
    `measured [99.9 % interval, z = ${TOLERANCE_Z}: Wilson for rates, normal for the margin] vs formula:`,
    "        p         q  E[K] measured/formula   no attester (1-q)^n                      caught 1-(1-q)^(n-m-lazy)                honest - cheating, TOMA per settlement",
  ];
  for (const pt of result.points)
    lines.push(
      [
        pt.p.toFixed(6).padStart(9),
        pt.q.toFixed(6).padStart(9),
        `${pt.meanAttesters.measured.toFixed(3)}/${pt.meanAttesters.expected.toFixed(3)}`.padStart(22),
        `  ${rate(pt.noAttester)}${pt.noAttester.within ? "" : " OUT"}`.padEnd(41),
        `${rate(pt.detection)}${pt.detection.within ? "" : " OUT"}`.padEnd(41),
        `${margin(pt.margin)}${pt.margin.within ? "" : " OUT"}`,
      ].join(" "),
    );
  lines.push(
    result.consistent
      ? "every measured rate and margin lies within its interval around the formula; cheating pays where the margin is negative"
      : "a measured figure lies outside its 99.9 % interval: the draw and the formula disagree",
    "",
  );
  return lines.join("\n");
}
