import {
  expectedCheaterReward,
  expectedHonestReward,
  type GameParameters,
  minimumReplicationRate,
  tamperedSettlementProbability,
} from "@atoma/core";
import { useState } from "react";
import type { ChainSnapshot } from "../chain/chainFeed.js";
import { detectionRecord, tasksOf } from "../chain/summary.js";
import { RewardPlot } from "./RewardPlot.js";

const fmt = (value: number) => (value === 0 ? "0" : value.toPrecision(4));

type Field = "reward" | "cost" | "collateral" | "adversary" | "attesters" | "nodes";
const FIELDS: { key: Field; label: string }[] = [
  { key: "reward", label: "R, paid per honest request" },
  { key: "cost", label: "C, inference cost" },
  { key: "collateral", label: "S, collateral lost when caught" },
  { key: "adversary", label: "r, adversary's share (0–1)" },
  { key: "attesters", label: "N, attesters" },
  { key: "nodes", label: "n, consensus nodes" },
];

export function EconomicsPage({ chain }: { chain: ChainSnapshot }) {
  const [inputs, setInputs] = useState<Record<Field, string>>({
    reward: "2",
    cost: "1",
    collateral: "100",
    adversary: "0.2",
    attesters: "1",
    nodes: "10",
  });
  const game: GameParameters = {
    reward: Number(inputs.reward),
    cost: Number(inputs.cost),
    collateral: Number(inputs.collateral),
    adversary: Number(inputs.adversary),
    attesters: Number(inputs.attesters),
  };
  let result:
    | { corollary: number; theorem: number; atRate: number; honest: number; cheater: number; m: number }
    | string;
  try {
    const bounds = minimumReplicationRate(game);
    const atRate = Math.max(bounds.theoremMinimum, bounds.corollaryMinimum);
    result = {
      corollary: bounds.corollaryMinimum,
      theorem: bounds.theoremMinimum,
      atRate,
      honest: expectedHonestReward(game, atRate),
      cheater: expectedCheaterReward(game, atRate),
      m: tamperedSettlementProbability(game.adversary, Number(inputs.nodes)),
    };
  } catch (error) {
    result = error instanceof Error ? error.message : String(error);
  }
  const record = detectionRecord(chain.events);
  const tasks = [...tasksOf(chain.events).values()];
  return (
    <section>
      <h2>Economics</h2>
      <h3>Replication rate at which honesty pays</h3>
      <form className="calculator" onSubmit={(e) => e.preventDefault()}>
        {FIELDS.map(({ key, label }) => (
          <label key={key}>
            {label}
            <input
              name={key}
              value={inputs[key]}
              onChange={(e) => setInputs({ ...inputs, [key]: e.target.value })}
              inputMode="decimal"
            />
          </label>
        ))}
      </form>
      {typeof result === "string" ? (
        <p className="error" data-testid="econ-error">
          {result}
        </p>
      ) : (
        <>
          <ul data-testid="econ-result">
            <li>
              Corollary 1: p &gt; <output data-testid="corollary">{fmt(result.corollary)}</output>
            </li>
            <li>
              Theorem A.3: p &gt; <output data-testid="theorem">{fmt(result.theorem)}</output>
            </li>
            <li>
              At p = {fmt(result.atRate)}: expected reward per request, honest {fmt(result.honest)}, cheating{" "}
              {fmt(result.cheater)}
            </li>
            <li>
              n-node sampling consensus: a tampered output settles with probability M = r^n = {fmt(result.m)}
            </li>
          </ul>
          <RewardPlot game={game} minimum={result.atRate} />
        </>
      )}
      <h3>This network</h3>
      <ul data-testid="detection">
        {tasks.map((task) => (
          <li key={String(task.id)}>
            task #{String(task.id)}: replication rate {task.replicationPpm / 1e6}, {task.attesters}{" "}
            attester(s), sample size {task.sampleSize}
          </li>
        ))}
        <li data-testid="detection-settlements">
          settlements {record.settlements}: sampled {record.sampled} ({record.requestsChecked} requests
          checked), not sampled {record.skipped}
          {record.settlements > 0 && `, live rate ${fmt(record.sampled / record.settlements)}`}
        </li>
        <li data-testid="detection-disputes">
          disputes {record.disputes}; frauds proven from receipts {record.frauds}; slashes for fraud{" "}
          {record.fraudSlashes}, for timeouts {record.timeoutSlashes}
        </li>
      </ul>
    </section>
  );
}
