import { Option } from "commander";

/** `--network <file>`: the network description the stack commands read. */
export function networkOption(): Option {
  return new Option(
    "--network <file>",
    "JSON with rpcUrl, chainId and contracts, as atoma dev prints after `ready ` (or ATOMA_NETWORK)",
  );
}
