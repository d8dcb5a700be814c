/** One sample of a Prometheus text exposition. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses Prometheus' text format (comments and malformed lines skipped). */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = SAMPLE.exec(line.trim());
    if (!match) continue;
    const value = Number(match[3]);
    if (Number.isNaN(value)) continue;
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (match[2] ?? "").matchAll(LABEL)) labels[key!] = raw!.replace(/\\(.)/g, "$1");
    samples.push({ name: match[1]!, labels, value });
  }
  return samples;
}

/** Metric names that count running and waiting requests, per serving stack. */
export const LOAD_METRICS = {
  running: [
    "vllm:num_requests_running",
    "sglang:num_running_reqs",
    "llamacpp:requests_processing",
    "atoma_engine_requests_running",
  ],
  waiting: [
    "vllm:num_requests_waiting",
    "sglang:num_queue_reqs",
    "llamacpp:requests_deferred",
    "atoma_engine_requests_waiting",
  ],
};

/** Running and waiting requests a server reports (summed over its label sets), or undefined if it reports none. */
export function loadFromMetrics(text: string): { running: number; waiting: number } | undefined {
  const samples = parsePrometheus(text);
  const sum = (names: string[]) => {
    const matching = samples.filter((sample) => names.includes(sample.name));
    return matching.length === 0 ? undefined : matching.reduce((total, sample) => total + sample.value, 0);
  };
  const running = sum(LOAD_METRICS.running);
  const waiting = sum(LOAD_METRICS.waiting);
  if (running === undefined && waiting === undefined) return undefined;
  return { running: running ?? 0, waiting: waiting ?? 0 };
}
