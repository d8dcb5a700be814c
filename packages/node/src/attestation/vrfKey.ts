import { getVrfKey, registerVrfKey } from "@atoma/chain";
import { type Logger, vrfPublicKey } from "@atoma/core";
import { type Hex, keccak256, type LocalAccount, numberToHex } from "viem";
import type { NodeSeat } from "../service/nodeSeat.js";
import { VrfKeyMismatchError } from "./errors.js";

/** The order of secp256k1's group: a VRF secret key is a scalar in [1, N − 1]. */
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/**
 * The node's VRF secret key, derived like its attestation salts: a deterministic signature by the node's key over
 * the registry it is for, hashed and reduced to a scalar. Nobody without the node's key can compute it, a restart
 * gives the same key (the registry sets a key once), and nothing secret is stored.
 */
export async function nodeVrfKey(
  account: LocalAccount,
  where: { chainId: number; vrfKeyRegistry: string },
): Promise<Hex> {
  const message = `atoma vrf key ${where.chainId} ${where.vrfKeyRegistry.toLowerCase()}`;
  const scalar = (BigInt(keccak256(await account.signMessage({ message }))) % (N - 1n)) + 1n;
  return numberToHex(scalar, { size: 32 });
}

/**
 * The node's VRF key for private self-selection, registered on chain the first time it is asked for (the node's
 * signer sends it). Undefined when the deployment has no VRF key registry (private selection off).
 */
export class VrfKeyKeeper {
  readonly #seat: NodeSeat;
  readonly #account: LocalAccount;
  readonly #logger: Logger;
  #key: Promise<Hex | undefined> | undefined;

  constructor(seat: NodeSeat, account: LocalAccount, logger: Logger) {
    this.#seat = seat;
    this.#account = account;
    this.#logger = logger;
  }

  /** The key, registering it when the node has none yet; a failed registration is tried again next time. */
  key(): Promise<Hex | undefined> {
    this.#key ??= this.#ensure().catch((error: unknown) => {
      this.#key = undefined;
      throw error;
    });
    return this.#key;
  }

  async #ensure(): Promise<Hex | undefined> {
    const registry = this.#seat.addresses.VrfKeyRegistry;
    if (!registry) return undefined;
    const nodeId = await this.#seat.registeredNodeId();
    const secretKey = await nodeVrfKey(this.#account, {
      chainId: this.#seat.chainId,
      vrfKeyRegistry: registry,
    });
    const registered = await getVrfKey(this.#seat, nodeId);
    if (!registered) {
      const sent = await registerVrfKey(this.#seat, { nodeId, secretKey });
      this.#logger.info({ nodeId: nodeId.toString(), tx: sent?.hash }, "registered the node's VRF key");
    } else if (!sameKey(vrfPublicKey(secretKey), registered)) {
      // Another key (the operator's) is registered: every proof of this node would fail, and it would never
      // attest privately without anyone noticing.
      throw new VrfKeyMismatchError(
        `node ${nodeId} has another VRF key registered than the one its signer derives; private selection cannot work`,
      );
    }
    return secretKey;
  }
}

const keepers = new WeakMap<NodeSeat, VrfKeyKeeper>();

/**
 * The one keeper of a node's VRF key, shared by the parts that select privately (attestation and consensus): two
 * keepers would each register the key when the start-time registration failed, and the second tx would revert
 * `VrfKeyAlreadySet`. A seat signs with one account, so the seat names the keeper.
 */
export function sharedVrfKeyKeeper(seat: NodeSeat, account: LocalAccount, logger: Logger): VrfKeyKeeper {
  let keeper = keepers.get(seat);
  if (!keeper) {
    keeper = new VrfKeyKeeper(seat, account, logger);
    keepers.set(seat, keeper);
  }
  return keeper;
}

/** Whether compressed SEC1 `publicKey` is the affine point `registered`. */
function sameKey(publicKey: Hex, registered: readonly [bigint, bigint]): boolean {
  const odd = publicKey.slice(2, 4) === "03";
  return BigInt(`0x${publicKey.slice(4)}`) === registered[0] && odd === (registered[1] % 2n === 1n);
}
