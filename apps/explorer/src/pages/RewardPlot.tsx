import { expectedCheaterReward, expectedHonestReward, type GameParameters } from "@atoma/core";

const W = 560;
const H = 240;
const PAD = 44;
const STEPS = 100;

/** The honest and the cheating node's expected reward per request against the replication rate p. */
export function RewardPlot({ game, minimum }: { game: GameParameters; minimum: number }) {
  // Up to four times the minimum rate, so the crossing shows (the whole range 0–1 when it is that large).
  const pMax = Math.min(1, Math.max(minimum * 4, 0.01));
  const ps = Array.from({ length: STEPS + 1 }, (_, i) => (i / STEPS) * pMax);
  const honest = ps.map((p) => expectedHonestReward(game, p));
  const cheater = ps.map((p) => expectedCheaterReward(game, p));
  const all = [...honest, ...cheater].filter(Number.isFinite);
  const lo = Math.min(0, ...all);
  const hi = Math.max(...all, lo + 1);
  const x = (p: number) => PAD + (p / pMax) * (W - 2 * PAD);
  const y = (v: number) => H - PAD - ((v - lo) / (hi - lo)) * (H - 2 * PAD);
  const path = (values: number[]) =>
    values.map((v, i) => `${i === 0 ? "M" : "L"}${x(ps[i]!).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  return (
    <svg
      width={W}
      height={H}
      role="img"
      aria-label="expected rewards by replication rate"
      data-testid="econ-plot"
    >
      <line x1={PAD} y1={y(0)} x2={W - PAD} y2={y(0)} stroke="#999" />
      <line x1={PAD} y1={PAD} x2={PAD} y2={H - PAD} stroke="#999" />
      <path d={path(honest)} fill="none" stroke="#1a7f37" strokeWidth={2} />
      <path d={path(cheater)} fill="none" stroke="#cf222e" strokeWidth={2} />
      {minimum <= 1 && (
        <line x1={x(minimum)} y1={PAD} x2={x(minimum)} y2={H - PAD} stroke="#555" strokeDasharray="4" />
      )}
      <text x={W - PAD} y={H - 8} textAnchor="end" fontSize="12">
        replication rate p → {pMax.toPrecision(3)}
      </text>
      <text x={PAD - 4} y={y(hi) + 4} textAnchor="end" fontSize="10">
        {hi.toPrecision(3)}
      </text>
      <text x={PAD - 4} y={y(lo) + 4} textAnchor="end" fontSize="10">
        {lo.toPrecision(3)}
      </text>
      <text x={PAD + 4} y={PAD - 8} fontSize="12" fill="#1a7f37">
        honest
      </text>
      <text x={PAD + 60} y={PAD - 8} fontSize="12" fill="#cf222e">
        cheating
      </text>
    </svg>
  );
}
