import {
  type Anvil,
  atomaContracts,
  type ChainContext,
  createAtomaPublicClient,
  createAtomaWalletClient,
  deployContracts,
  devAccounts,
  modelIdOf,
  registerModel,
  startAnvil,
} from "@atoma/chain";
import { ensureTinyModel, weightsRoot } from "@atoma/engine";
import { parseEther } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkRegisteredWeights } from "./registeredWeights.js";
import {
  ModelNotActiveError,
  ModelNotRegisteredError,
  RegisteredWeightsMismatchError,
} from "./weightsErrors.js";

const tiny = ensureTinyModel();
const other = ensureTinyModel({ seed: 7 });
let anvil: Anvil;
let admin: ChainContext;

async function register(name: string, root: `0x${string}`): Promise<void> {
  await registerModel(admin, {
    modelId: modelIdOf(name),
    weightsRoot: root,
    feeBps: 0,
    collateral: parseEther("100"),
    uri: `atoma://models/${name}`,
  });
}

beforeAll(async () => {
  anvil = await startAnvil();
  const chain = { rpcUrl: anvil.rpcUrl, chainId: anvil.chainId };
  const publicClient = createAtomaPublicClient(chain);
  const [deployer] = await devAccounts(chain);
  const walletClient = createAtomaWalletClient(chain, { address: deployer!, type: "json-rpc" });
  const { addresses } = await deployContracts(publicClient, walletClient);
  admin = { publicClient, walletClient, addresses };
  // The deployer holds the genesis supply.
});
afterAll(async () => {
  await anvil?.stop();
});

describe("checkRegisteredWeights", () => {
  it("accepts a file whose weights root is the registered one", async () => {
    await register("matching", await weightsRoot(tiny.path));
    const checked = await checkRegisteredWeights(admin, { name: "matching", path: tiny.path });
    expect(checked).toEqual({ modelId: modelIdOf("matching"), root: await weightsRoot(tiny.path) });
  });

  it("refuses another file, an unregistered model, and a disabled one, each with its own error", async () => {
    await register("mismatched", await weightsRoot(tiny.path));
    const mismatch = checkRegisteredWeights(admin, { name: "mismatched", path: other.path });
    await expect(mismatch).rejects.toBeInstanceOf(RegisteredWeightsMismatchError);
    await expect(mismatch).rejects.toMatchObject({
      code: "registered_weights_mismatch",
      registeredRoot: await weightsRoot(tiny.path),
      localRoot: await weightsRoot(other.path),
    });

    await expect(checkRegisteredWeights(admin, { name: "absent", path: tiny.path })).rejects.toBeInstanceOf(
      ModelNotRegisteredError,
    );

    await register("disabled", await weightsRoot(tiny.path));
    const { modelRegistry } = atomaContracts(admin.addresses, admin.publicClient, admin.walletClient);
    await admin.publicClient.waitForTransactionReceipt({
      hash: await modelRegistry.write.disableModel([modelIdOf("disabled")]),
    });
    await expect(checkRegisteredWeights(admin, { name: "disabled", path: tiny.path })).rejects.toThrow(
      new ModelNotActiveError("disabled", "disabled"),
    );
  });
});
