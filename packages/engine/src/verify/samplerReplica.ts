const f32 = Math.fround;

/** One vocabulary entry's raw logit. */
export interface Candidate {
  token: number;
  logit: number;
}

/** The sampling fields that decide which token is picked. */
export interface SamplerSettings {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
}

/**
 * Candidates from (token, logit) pairs as a read-out hands them over (each token once), by logit, highest first (ties
 * by token id: llama.cpp's order on exact ties is unspecified). Read-outs come highest first already, so only an exact
 * tie out of id order, or any other disorder, costs a sort.
 */
export function sortCandidates(pairs: readonly number[]): Candidate[] {
  const candidates: Candidate[] = [];
  let ordered = true;
  let previous: Candidate | undefined;
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const candidate = { token: pairs[i]!, logit: f32(pairs[i + 1]!) };
    if (
      previous &&
      !(
        previous.logit > candidate.logit ||
        (previous.logit === candidate.logit && previous.token < candidate.token)
      )
    )
      ordered = false;
    candidates.push(candidate);
    previous = candidate;
  }
  return ordered ? candidates : candidates.sort((a, b) => b.logit - a.logit || a.token - b.token);
}

export interface ChainOutcome {
  /** Candidates left after top-k, top-p and min-p, in sampling order. */
  kept: Candidate[];
  /** Their probabilities after temperature (sum to 1). */
  probabilities: number[];
  /** Index into `kept` of the token the draw selects. */
  picked: number;
}

/**
 * node-llama-cpp's sampler chain for temperature > 0, step by step as llama.cpp computes it (float32 where it
 * uses float): top-k (0 = whole vocabulary) → top-p → min-p → temperature → `dist`, which picks the first
 * token whose running probability sum reaches `draw` × total. `candidates` must be sorted and hold at least the
 * top-k tokens.
 */
export function replicateChain(
  candidates: readonly Candidate[],
  settings: SamplerSettings,
  draw: number,
): ChainOutcome {
  let kept = settings.topK > 0 ? Math.min(settings.topK, candidates.length) : candidates.length;
  if (settings.topP < 1 && kept > 0) {
    const max = candidates[0]!.logit;
    const raw = scratch(kept);
    let total = 0;
    for (let i = 0; i < kept; i++) {
      raw[i] = f32(Math.exp(f32(candidates[i]!.logit - max)));
      total = f32(total + raw[i]!);
    }
    const topP = f32(settings.topP);
    let cumulative = 0;
    for (let i = 0; i < kept; i++) {
      cumulative = f32(cumulative + f32(raw[i]! / total));
      if (cumulative >= topP) {
        kept = i + 1;
        break;
      }
    }
  }
  if (settings.minP > 0 && kept > 0) {
    const threshold = f32(candidates[0]!.logit + f32(Math.log(f32(settings.minP))));
    let i = 1;
    while (i < kept && candidates[i]!.logit >= threshold) i++;
    kept = i;
  }
  const keptCandidates = candidates.slice(0, kept);
  if (kept <= 1) return { kept: keptCandidates, probabilities: keptCandidates.map(() => 1), picked: 0 };
  const temperature = f32(settings.temperature);
  const max = f32(candidates[0]!.logit / temperature);
  const weights: number[] = [];
  let total = 0;
  for (let i = 0; i < kept; i++) {
    const weight = f32(Math.exp(f32(f32(candidates[i]!.logit / temperature) - max)));
    weights.push(weight);
    total += weight;
  }
  const target = total * draw;
  let running = 0;
  let picked = kept - 1;
  for (let i = 0; i < kept; i++) {
    running += weights[i]!;
    if (running >= target) {
      picked = i;
      break;
    }
  }
  for (let i = 0; i < kept; i++) weights[i] = weights[i]! / total;
  return { kept: keptCandidates, probabilities: weights, picked };
}

/** A reusable buffer for top-p's raw weights (float32 values, so a float64 buffer holds them exactly). */
let scratchBuffer = new Float64Array(64);
function scratch(size: number): Float64Array {
  if (scratchBuffer.length < size) scratchBuffer = new Float64Array(size);
  return scratchBuffer;
}

export type TokenVerdict = "exact" | "tolerated" | "rejected";

/** Evidence for one claimed token. */
export interface TokenCheck {
  verdict: TokenVerdict;
  /** Log-probability of the claimed token under the request's sampling distribution (−Infinity if excluded). */
  logprob: number;
  /** 1-based rank of the claimed token by logit (0: not among the candidates examined). */
  rank: number;
  /** Highest logit minus the claimed token's logit. */
  logitGap: number;
  /** The sampler's uniform draw for this step (sampled decoding only). */
  draw?: number | undefined;
  /** Range of draws that select the claimed token, widened by the tolerance (sampled decoding only). */
  acceptedDraws?: [number, number] | undefined;
  why?: string | undefined;
}

/**
 * Whether `claimed` is a token honest decoding could have produced at this step, when the verifier's logits may
 * differ from the producer's by up to `tolerance` each. Greedy: its logit is within the tolerance of the highest.
 * Sampled: it survives truncation allowing for the tolerance, and the step's seeded draw falls in its slice of the
 * cumulative distribution, widened by how far the tolerance can move that slice.
 */
export function checkToken(
  candidates: readonly Candidate[],
  claimed: number,
  settings: SamplerSettings,
  draw: number | undefined,
  tolerance: number,
): TokenCheck {
  const index = candidates.findIndex((c) => c.token === claimed);
  const top = candidates[0]!;
  if (index === -1)
    return {
      verdict: "rejected",
      logprob: -Infinity,
      rank: 0,
      logitGap: Infinity,
      draw,
      why: "not a likely token",
    };
  const logit = candidates[index]!.logit;
  const base = { rank: index + 1, logitGap: top.logit - logit };
  if (settings.temperature <= 0 || draw === undefined) {
    const verdict = index === 0 ? "exact" : base.logitGap <= tolerance ? "tolerated" : "rejected";
    return {
      verdict,
      logprob: index === 0 ? 0 : -Infinity,
      ...base,
      why: verdict === "rejected" ? "not the greedy token" : undefined,
    };
  }
  const nominal = replicateChain(candidates, settings, draw);
  // The kept candidates are a prefix of the candidates.
  const keptAt = index < nominal.kept.length ? index : -1;
  const logprob = keptAt === -1 ? -Infinity : Math.log(nominal.probabilities[keptAt]!);
  let sliceStart = 0;
  for (let i = 0; i < keptAt; i++) sliceStart += nominal.probabilities[i]!;
  if (nominal.kept[nominal.picked]?.token === claimed)
    return {
      verdict: "exact",
      logprob,
      ...base,
      draw,
      acceptedDraws: [sliceStart, sliceStart + Math.exp(logprob)],
    };

  const reject = (why: string): TokenCheck => ({ verdict: "rejected", logprob, ...base, draw, why });
  const k = settings.topK > 0 ? Math.min(settings.topK, candidates.length) : candidates.length;
  if (logit < candidates[k - 1]!.logit - tolerance) return reject("outside top-k");
  if (settings.minP > 0 && logit < top.logit + Math.log(settings.minP) - 2 * tolerance)
    return reject("below min-p");
  if (settings.topP < 1) {
    const pool = candidates.slice(0, k);
    const total = pool.reduce((sum, c) => sum + Math.exp(c.logit - top.logit), 0);
    const ahead = pool
      .filter((c) => c.logit > logit + tolerance)
      .reduce((sum, c) => sum + Math.exp(c.logit - top.logit), 0);
    if ((ahead / total) * Math.exp(-2 * tolerance) >= settings.topP) return reject("outside top-p");
  }
  // The claimed token's slice of the cumulative distribution. Truncation keeps a prefix of the sorted order, so
  // every token ahead of the claimed one is kept; only how far the kept tail reaches past it is uncertain.
  const weight = (c: Candidate) => Math.exp((c.logit - top.logit) / settings.temperature);
  const sum = (list: readonly Candidate[]) => list.reduce((total, c) => total + weight(c), 0);
  const cut = nominal.kept.at(-1)!.logit;
  const truncated = nominal.kept.length < candidates.length;
  const others = candidates.filter((c) => c.token !== claimed);
  const ahead = sum(others.filter((c) => c.logit > logit + tolerance));
  const ties = sum(others.filter((c) => Math.abs(c.logit - logit) <= tolerance));
  const after = others.filter((c) => c.logit < logit - tolerance);
  const tailLongest = sum(truncated ? after.filter((c) => c.logit >= cut - 2 * tolerance) : after);
  const tailShortest = sum(truncated ? after.filter((c) => c.logit > cut + 2 * tolerance) : after);
  const own = weight(candidates[index]!);
  const startShare = ahead / (ahead + ties + own + tailLongest);
  const endShare = (ahead + ties + own) / (ahead + ties + own + tailShortest);
  // Moving every logit by up to the tolerance moves a cumulative share F = A / (A + B) at most to
  // F / (F + (1 − F)·s) below and F·s / (F·s + 1 − F) above, with s = exp(2·tolerance / temperature).
  const spread = Math.exp((2 * tolerance) / settings.temperature);
  const low = startShare / (startShare + (1 - startShare) * spread);
  const high = (endShare * spread) / (endShare * spread + 1 - endShare);
  const acceptedDraws: [number, number] = [Math.max(0, low), high];
  if (draw >= low && draw <= high) return { verdict: "tolerated", logprob, ...base, draw, acceptedDraws };
  return { ...reject("the seeded draw selects another token"), acceptedDraws };
}
