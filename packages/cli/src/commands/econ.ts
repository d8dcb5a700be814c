import {
  expectedCheaterReward,
  expectedHonestReward,
  type GameParameters,
  minimumReplicationRate,
  tamperedSettlementProbability,
} from "@atoma/core";
import type { Command } from "commander";
import { CliUsageError } from "../errors.js";
import { numberOption } from "../numberOptions.js";
import { integerOption } from "../options.js";
import { selectionReport } from "./econSelection.js";
import { registerEconSimulate } from "./econSimulate.js";

interface EconFlags {
  reward: number;
  cost?: number;
  collateral: number;
  adversary: number;
  attesters: number;
  nodes: number;
  eligible: number;
  cheatUnchecked?: number;
  cheatColluding?: number;
  json?: boolean;
}

const fmt = (value: number) => (value === 0 ? "0" : value.toPrecision(4));

export function registerEcon(program: Command): void {
  const econ = program
    .command("econ")
    // `econ simulate` takes its own --reward and friends: econ's options stop at the subcommand.
    .enablePositionalOptions()
    .description(
      "the replication rate at which honesty pays (whitepaper Appendix A), and the n-node consensus failure odds",
    )
    .option("--reward <R>", "what an honest node is paid per request", numberOption("--reward"))
    .option("--collateral <S>", "the collateral a cheater loses", numberOption("--collateral"))
    .option(
      "--adversary <r>",
      "largest share of the network one party controls (0 < r < 1)",
      numberOption("--adversary"),
    )
    .option(
      "--cost <C>",
      "native inference cost; omitted, amounts are in units of it (C = 1)",
      numberOption("--cost"),
    )
    .option(
      "--attesters <N>",
      "attesters sampled when verification happens",
      integerOption("--attesters", 1, 1000),
      1,
    )
    .option("--nodes <n>", "nodes in n-node sampling consensus", integerOption("--nodes", 1, 1000), 10)
    .option(
      "--eligible <n>",
      "nodes eligible to attest a settlement (private VRF self-selection); round(r·n) of them are the cheater's",
      integerOption("--eligible", 2, 1000),
      10,
    )
    .option(
      "--cheat-unchecked <W1>",
      "a cheater's take when unchecked (default R)",
      numberOption("--cheat-unchecked"),
    )
    .option(
      "--cheat-colluding <W2>",
      "a cheater's take when all attesters collude (default 2R)",
      numberOption("--cheat-colluding"),
    )
    .option("--json", "print one JSON object")
    .action((flags: EconFlags) => {
      // Checked here, not as commander's required options, which would also be demanded of `econ simulate`.
      for (const [name, value] of [
        ["--reward <R>", flags.reward],
        ["--collateral <S>", flags.collateral],
        ["--adversary <r>", flags.adversary],
      ] as const) {
        if (value === undefined) throw new CliUsageError(`required option '${name}' not specified`);
      }
      const game: GameParameters = {
        reward: flags.reward,
        cost: flags.cost ?? 1,
        collateral: flags.collateral,
        adversary: flags.adversary,
        attesters: flags.attesters,
        cheatUnchecked: flags.cheatUnchecked,
        cheatColluding: flags.cheatColluding,
      };
      const bounds = minimumReplicationRate(game);
      const consensusFailure = tamperedSettlementProbability(flags.adversary, flags.nodes);
      const atRate = Math.max(bounds.theoremMinimum, bounds.corollaryMinimum);
      const honest = expectedHonestReward(game, atRate);
      const cheater = expectedCheaterReward(game, atRate);
      const selection = selectionReport(game, flags.eligible);
      if (flags.json) {
        process.stdout.write(
          `${JSON.stringify({ ...bounds, expectedHonestReward: honest, expectedCheaterReward: cheater, nodes: flags.nodes, consensusFailure, selection: selection.json })}\n`,
        );
        return;
      }
      const unit = flags.cost === undefined ? " (in units of C)" : "";
      process.stdout.write(
        [
          `Cross-validation sampling with N = ${flags.attesters} attester(s), r = ${flags.adversary}${unit}:`,
          `  Corollary 1   p > ${fmt(bounds.corollaryMinimum)}   [C / ((1 - r)(R + S))]`,
          `  Theorem A.3   p > ${fmt(bounds.theoremMinimum)}`,
          `  at p = ${fmt(atRate)}: expected reward per request, honest ${fmt(honest)}, cheating ${fmt(cheater)}`,
          `n-node sampling consensus with n = ${flags.nodes}: a tampered output settles with probability M = r^n = ${fmt(consensusFailure)}`,
          ...selection.lines,
          "",
        ].join("\n"),
      );
    });
  registerEconSimulate(econ);
}
