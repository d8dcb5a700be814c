// VRF sortition: evaluation time per node per settlement, on-chain verification gas, no-attester rate (through the contracts) vs bound.
import { chainFor, createAtomaPublicClient, devAccounts, startAnvil } from "@atoma/chain";
import { vrfHarnessAbi, vrfHarnessBytecode } from "@atoma/contracts";
import {
  committeeSortition,
  noSelectionBound,
  noSelectionProbability,
  selectionCountProbability,
  sortitionSeed,
  vrfEvaluate,
  vrfProve,
  vrfPublicKey,
  vrfVerifierHints,
} from "@atoma/core";
import { createWalletClient, type Hex, http, keccak256, toHex } from "viem";
import { report } from "./lib/report.js";
import { selectionThroughContracts } from "./lib/vrfThroughContracts.js";

// `npm run bench -- vrf [SETTLEMENTS]`: settlements run through the contracts for the no-attester rate.
const settlements = Number(process.argv[2] ?? 200);
const nodes = 10;
const committee = 3;
const keys = Array.from({ length: nodes }, (_, i) => keccak256(toHex(`bench node ${i}`)));
const seedOf = (i: number) =>
  sortitionSeed(keccak256(toHex(`bench settlement ${i}`)), keccak256(toHex(`bench block ${i}`)), "attest");

const evalRuns = 200;
let started = performance.now();
for (let i = 0; i < evalRuns; ++i) vrfEvaluate(keys[i % nodes] as Hex, seedOf(i));
report("vrf_eval_ms", (performance.now() - started) / evalRuns, "ms");

started = performance.now();
const proofs = Array.from({ length: 10 }, (_, i) => ({ key: keys[i] as Hex, alpha: seedOf(i) }));
const proved = proofs.map(({ key, alpha }) => ({ key, alpha, proof: vrfProve(key, alpha) }));
report("vrf_prove_ms", (performance.now() - started) / proofs.length, "ms");

const anvil = await startAnvil({ accounts: 1 });
try {
  const options = { rpcUrl: anvil.rpcUrl, chainId: anvil.chainId };
  const publicClient = createAtomaPublicClient(options);
  const [account] = await devAccounts(options);
  if (!account) throw new Error("anvil has no dev account");
  const chain = chainFor(anvil.chainId, anvil.rpcUrl);
  const wallet = createWalletClient({ account, chain, transport: http(anvil.rpcUrl) });
  const hash = await wallet.deployContract({ abi: vrfHarnessAbi, bytecode: vrfHarnessBytecode });
  const { contractAddress } = await publicClient.waitForTransactionReceipt({ hash });
  if (!contractAddress) throw new Error("VrfHarness did not deploy");
  let total = 0n;
  for (const { key, alpha, proof } of proved) {
    const hints = vrfVerifierHints(vrfPublicKey(key), alpha, proof);
    const [, gasUsed] = await publicClient.readContract({
      address: contractAddress,
      abi: vrfHarnessAbi,
      functionName: "measureVerify",
      args: [
        [...hints.publicKey],
        alpha,
        proof,
        { u: [...hints.u], sH: [...hints.sH], cGamma: [...hints.cGamma] },
      ],
    });
    total += gasUsed;
  }
  report("gas_vrf_verify", Number(total / BigInt(proved.length)), "gas");
} finally {
  await anvil.stop();
}

// A settlement that must be checked (p = 1): each of the n = 10 candidates (11 nodes, the server excluded) selects
// itself with N/n, every one evaluating its VRF and the selected committing through `SettlementDraw.selfSelect`.
const draw = committeeSortition(nodes, committee);
const measured = await selectionThroughContracts(settlements, nodes + 1, committee);
report("gas_vrf_self_select", measured.selfSelectGas, "gas");
report("gas_vrf_register_key", measured.registerGas, "gas");
report("attesters_per_settlement", measured.selections / settlements, "count");
report("no_attester_rate", measured.empty / settlements, "ratio");
report("no_attester_exact", noSelectionProbability(draw), "ratio");
report("no_attester_bound", noSelectionBound(draw), "ratio");
// Fewer than N seated on a settlement that must be checked: public attesters join up to N (docs/vrf.md, H4).
report("top_up_rate", measured.toppedUp / settlements, "ratio");
let belowN = 0;
for (let k = 0; k < committee; k++) belowN += selectionCountProbability(draw, k);
report("top_up_exact", belowN, "ratio");
