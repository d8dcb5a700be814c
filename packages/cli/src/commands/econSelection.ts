import { compareSelection, type GameParameters, InvalidInputError, mustCheckOdds } from "@atoma/core";

const fmt = (value: number) => (value === 0 ? "0" : value.toPrecision(4));

/** The private-selection part of `atoma econ`: its JSON field and its lines, or why it cannot be computed. */
export function selectionReport(game: GameParameters, eligible: number): { json: object; lines: string[] } {
  const set = { eligible, colluding: Math.round(game.adversary * eligible) };
  const attesters = game.attesters ?? 1;
  try {
    const comparison = compareSelection(game, set);
    const unfallen = mustCheckOdds(set, attesters, "none");
    const mustCheck = {
      noAttester: unfallen.noAttester,
      noAttesterBound: unfallen.noAttesterBound,
      noCommit: unfallen.noCommit,
      escapeWithPublicDraw: mustCheckOdds(set, attesters, "public-draw").escape,
      escapeWithTopUp: mustCheckOdds(set, attesters, "public-top-up").escape,
      escapeWithHeldPayment: mustCheckOdds(set, attesters, "held-payment").escape,
    };
    const s = comparison;
    return {
      json: { ...comparison, mustCheck },
      lines: [
        `Attesters from n = ${s.eligible} eligible nodes, m = ${s.colluding} of them the cheater's (Lemmas A.1/A.2 crossing, docs/vrf.md):`,
        `  public draw of N (today)        p* = ${fmt(s.publicThreshold)}   caught at p*: ${fmt(s.publicDetection)}`,
        `  private VRF self-selection      p* = ${fmt(s.privateThreshold)}   caught at p*: 1 - (1 - q)^(n-m) = ${fmt(s.privateDetection)}, q = pN/n = ${fmt(s.selectionProbability)}`,
        `  private, last-mover colluders   p* = ${fmt(s.privateThresholdLastMover)}   (a node of the cheater's seats last when no honest one did: seats land in public)`,
        `  no attester at p* (the settlement goes unchecked): P(K = 0) = (1 - q)^n = ${fmt(s.noAttesterProbability)}, bound e^(-pN) = ${fmt(s.noAttesterBound)}`,
        `  a settlement that must be checked (q = N/n): no attester (1 - N/n)^n = ${fmt(mustCheck.noAttester)}, bound e^(-N) = ${fmt(mustCheck.noAttesterBound)};`,
        `    no honest node selected ${fmt(mustCheck.noCommit)}; a cheater seating its own last escapes a public draw on nobody seated with ${fmt(mustCheck.escapeWithPublicDraw)}, the public top-up to N (the contracts) with ${fmt(mustCheck.escapeWithTopUp)}, a held payment with ${fmt(mustCheck.escapeWithHeldPayment)}`,
      ],
    };
  } catch (error) {
    // The whitepaper's figures above stand on their own; a set too small or too captured for this part says why.
    if (!(error instanceof InvalidInputError)) throw error;
    return {
      json: { error: error.message },
      lines: [`Attesters from n = ${eligible} eligible nodes: not computed (${error.message})`],
    };
  }
}
