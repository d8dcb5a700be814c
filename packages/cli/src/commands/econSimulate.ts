import { writeFile } from "node:fs/promises";
import {
  formatPrivateSelection,
  formatPrivateSelectionOnChain,
  formatReport,
  formatSelfDealing,
  MAX_RATES,
  profitPlot,
  runPrivateSelection,
  runPrivateSelectionOnChain,
  runSelfDealing,
  runSimulation,
  type Strategy,
  validatePrivateSelectionOptions,
  validateSelfDealingOptions,
  validateSimulationOptions,
} from "@atoma/simulate";
import type { Command } from "commander";
import { CliUsageError } from "../errors.js";
import { numberOption } from "../numberOptions.js";
import { integerOption } from "../options.js";

interface SimulateFlags {
  stacks?: number;
  nodes?: number;
  adversary?: number;
  reward?: number;
  cost?: number;
  collateral?: number;
  pPoints?: number;
  pValues?: number[];
  requests?: number;
  sampleSize?: number;
  attesters?: number;
  strategy?: Strategy;
  ownerAudit?: number;
  cheatShare?: number;
  saving?: number;
  concurrency?: number;
  seed?: number;
  out?: string;
  json?: boolean;
  selfDealing?: boolean;
  capital?: number;
  washPoints?: number;
  demand?: number;
  worst?: boolean;
  privateSelection?: boolean;
  settlements?: number;
  lazy?: number;
  vrf?: boolean;
  throughContracts?: boolean;
  rate?: number;
  lastMover?: boolean;
}

function rateList(value: string): number[] {
  const rates = value.split(",").map((part) => Number(part.trim()));
  if (value.trim() === "" || rates.some((p) => !Number.isFinite(p)))
    throw new CliUsageError(`--p-values must be comma-separated numbers, got "${value}"`);
  return rates;
}

export function registerEconSimulate(econ: Command): void {
  econ
    .command("simulate")
    .description(
      "Monte Carlo of cheating nodes through the deployed contracts on a fresh anvil: profit and detection against p; " +
        "with --self-dealing, wash trading (a node buying from itself) against staking the same capital honestly",
    )
    .option(
      "--stacks <n>",
      "stacks settled at each replication rate",
      integerOption("--stacks", 1, 1_000_000),
    )
    .option("--nodes <n>", "registered nodes", integerOption("--nodes", 2, 120))
    .option("--adversary <r>", "share of the nodes that cheat (0 < r < 1)", numberOption("--adversary"))
    .option("--reward <R>", "TOMA the serving node is paid per stack", numberOption("--reward"))
    .option("--cost <C>", "TOMA serving a stack honestly costs", numberOption("--cost"))
    .option(
      "--collateral <S>",
      "TOMA each node stakes (all of it is lost when caught)",
      numberOption("--collateral"),
    )
    .option("--p-points <n>", "replication rates swept, 0 to 2 p*", integerOption("--p-points", 2, MAX_RATES))
    .option("--p-values <list>", "explicit replication rates, comma-separated", rateList)
    .option("--requests <n>", "requests in a stack", integerOption("--requests", 1, 256))
    .option("--sample-size <n>", "requests an attester recomputes", integerOption("--sample-size", 1, 32))
    .option("--attesters <N>", "attesters per checked settlement", integerOption("--attesters", 1, 8))
    .option("--strategy <name>", "how cheaters cheat: cheap-model or over-claim")
    .option(
      "--owner-audit <a>",
      "chance an owner checks settled units against its signed responses (over-claim)",
      numberOption("--owner-audit"),
    )
    .option(
      "--cheat-share <f>",
      "share of a cheater's requests answered by a cheaper model",
      numberOption("--cheat-share"),
    )
    .option("--saving <s>", "share of C a cheater saves on such a request", numberOption("--saving"))
    .option(
      "--concurrency <n>",
      "stacks bought at once per round (--through-contracts: settlements put through the contracts together, default 16)",
      integerOption("--concurrency", 1, 64),
    )
    .option(
      "--seed <n>",
      "seeds the simulator's choices (accounts, cheaters, falsified answers, audits); the contracts' own draws use anvil's prevrandao, which anvil does not let one set",
      integerOption("--seed", 0, 2 ** 31),
    )
    .option("--out <file.svg>", "write a plot of profit per stack against p")
    .option("--json", "print one JSON object instead of the report")
    .option("--self-dealing", "play wash trading instead: self-dealers against an honest staker, one epoch")
    .option("--capital <TOMA>", "(--self-dealing) each side's capital", numberOption("--capital"))
    .option(
      "--wash-points <n>",
      "(--self-dealing) splits tried: 1/(2n) … 1/2 of the capital put through oneself",
      integerOption("--wash-points", 1, 12),
    )
    .option(
      "--demand <TOMA>",
      "(--self-dealing) the honest node's real fees in the epoch (default: enough to reach its stake cap)",
      numberOption("--demand"),
    )
    .option("--worst", "(--self-dealing) at the worst parameters governance may set")
    .option(
      "--private-selection",
      "draw attesters by private VRF self-selection instead (K ~ Binomial(n, pN/n)) and check the measured no-attester and detection rates against the formulas",
    )
    .option(
      "--settlements <n>",
      "(--private-selection) a cheater's settlements drawn per rate",
      integerOption("--settlements", 1, 1_000_000),
    )
    .option(
      "--lazy <n>",
      "(--private-selection) honest nodes that copy instead of recomputing when selected",
      integerOption("--lazy", 0, 118),
    )
    .option("--vrf", "(--private-selection) evaluate the real ECVRF per node and settlement (slower)")
    .option(
      "--through-contracts",
      "(--private-selection) run the settlements through a deployment with privateSelection on (VRF keys registered, selfSelect with real proofs, fallbacks drawn) and measure p* with its interval",
    )
    .option(
      "--rate <p>",
      "(--through-contracts) the task's sampling rate; the margin is read at 40 rates up to it (default 2·p*)",
      numberOption("--rate"),
    )
    .option(
      "--last-mover",
      "(--through-contracts) the cheater's selected nodes seat last, once every honest seat is in (the built system allows it), instead of staying silent; measures the last-mover p*",
    )
    .action(async (flags: SimulateFlags) => {
      const {
        json,
        out,
        selfDealing,
        capital,
        washPoints,
        demand,
        worst,
        privateSelection,
        settlements,
        lazy,
        vrf,
        throughContracts,
        rate,
        lastMover,
        ...rest
      } = flags;
      if (privateSelection && throughContracts) {
        const {
          stacks,
          pPoints,
          pValues,
          requests,
          sampleSize,
          strategy,
          ownerAudit,
          concurrency,
          ...shared
        } = rest;
        const options = validatePrivateSelectionOptions({ ...shared, settlements: settlements ?? 200, lazy });
        const { pValues: _p, vrf: _v, ...onChain } = options;
        const result = await runPrivateSelectionOnChain({
          ...onChain,
          rate,
          batch: concurrency,
          colluders: lastMover ? "last-mover" : "silent",
        });
        process.stdout.write(json ? `${JSON.stringify(result)}\n` : formatPrivateSelectionOnChain(result));
        if (!result.within || result.disagreements > 0) process.exitCode = 1;
        return;
      }
      if (privateSelection) {
        const { stacks, pPoints, requests, sampleSize, strategy, ownerAudit, concurrency, ...shared } = rest;
        const result = runPrivateSelection(
          validatePrivateSelectionOptions({ ...shared, settlements, lazy, vrf: vrf === true }),
        );
        process.stdout.write(json ? `${JSON.stringify(result)}\n` : formatPrivateSelection(result));
        if (!result.consistent) process.exitCode = 1;
        return;
      }
      if (selfDealing) {
        const options = validateSelfDealingOptions({
          capital,
          points: washPoints,
          demand,
          worst: worst === true,
          seed: rest.seed,
        });
        const result = await runSelfDealing(options);
        process.stdout.write(json ? `${JSON.stringify(result)}\n` : formatSelfDealing(result));
        return;
      }
      const options = validateSimulationOptions({ ...rest, out });
      const result = await runSimulation(options, process.stderr);
      if (out) await writeFile(out, profitPlot(result));
      process.stdout.write(json ? `${JSON.stringify(result)}\n` : formatReport(result, out));
    });
}
