import { expectedCheaterReward, expectedHonestReward, type GameParameters } from "@atoma/core";
import type { SimulationResult } from "./runSimulation.js";
import { renderPlot } from "./svgPlot.js";

/** The plot `--out` writes: realized profit per stack against p for both groups, with p* and the crossing. */
export function profitPlot(result: SimulationResult): string {
  const o = result.options;
  const lossPerCatch = o.reward + o.collateral;
  const markers = [
    {
      label: `p* = ${result.targets.corollary.toPrecision(3)} (Corollary 1)`,
      x: result.targets.corollary,
      colour: "#555",
    },
  ];
  if (result.crossing.p !== undefined)
    markers.push({
      label: `measured crossing ${result.crossing.p.toPrecision(3)}`,
      x: result.crossing.p,
      colour: "#2a7",
    });
  return renderPlot({
    title: `Profit per stack vs replication rate p (R=${o.reward}, C=${o.cost}, S=${o.collateral}, r=${o.adversary}, ${result.stacks} stacks)`,
    xLabel: "replication rate p",
    yLabel: "realized profit per stack (TOMA)",
    series: [
      {
        label: "honest nodes",
        colour: "#1f5fbf",
        points: result.points.map((pt) => ({ x: pt.p, y: pt.honest.profitPerStack })),
      },
      {
        label: "cheating nodes (95 % detection CI)",
        colour: "#c0392b",
        points: result.points.map((pt) => {
          const share = pt.cheater.stacks > 0 ? pt.cheats / pt.cheater.stacks : 0;
          const move = (d: number) =>
            pt.cheater.profitPerStack - share * lossPerCatch * (d - pt.detectionRate);
          return {
            x: pt.p,
            y: pt.cheater.profitPerStack,
            low: move(pt.detectionInterval.high),
            high: move(pt.detectionInterval.low),
          };
        }),
      },
      ...theoryCurves(result),
    ],
    markers,
  });
}

/** Lemma A.1 and A.2 of the whitepaper (core's economics) over the swept range, as reference curves. */
function theoryCurves(result: SimulationResult) {
  const o = result.options;
  if (o.strategy !== "cheap-model") return [];
  const game: GameParameters = {
    reward: o.reward,
    cost: o.cost,
    collateral: o.collateral,
    adversary: o.adversary,
    attesters: o.attesters,
    cheatUnchecked: o.reward - (1 - o.saving * o.cheatShare) * o.cost,
  };
  const top = result.points.at(-1)?.p ?? 1;
  const ps = Array.from({ length: 41 }, (_, i) => (top * i) / 40);
  return [
    {
      label: "honest, whitepaper Lemma A.1",
      colour: "#1f5fbf",
      dashed: true,
      points: ps.map((p) => ({ x: p, y: expectedHonestReward(game, p) })),
    },
    {
      label: "cheating, whitepaper Lemma A.2",
      colour: "#c0392b",
      dashed: true,
      points: ps.map((p) => ({ x: p, y: expectedCheaterReward(game, p) })),
    },
  ];
}
