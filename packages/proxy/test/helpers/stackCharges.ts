import type { GatewayDb } from "../../src/db/openGatewayDatabase.js";
import { KeyStore } from "../../src/keys/keyStore.js";
import { SealedCharges } from "../../src/limits/sealedCharges.js";
import { SpendLedger } from "../../src/limits/spendLedger.js";

/**
 * Charges `keyId` `wei` for a request served on `stackId`, through the spend ledger as a confidential session's
 * settlement does (the charge recorded with its stack, applied to the database now).
 */
export async function chargeOnStack(db: GatewayDb, keyId: string, stackId: bigint, wei: bigint) {
  const ledger = new SpendLedger(db, { sliceIdleMs: 0 });
  const reservation = await ledger.reserve(keyId, wei);
  await ledger.settle(reservation, wei, undefined, undefined, stackId);
}

/**
 * Key `keyId` charged `wei` on `stackId` for a sealed leaf with no receipt: held at nonce 1 (10 units at 1 wei a
 * million), settling at no less than `floorWei`.
 */
export async function holdOnStack(
  db: GatewayDb,
  keyId: string,
  stackId: bigint,
  wei: bigint,
  floorWei: bigint,
) {
  await chargeOnStack(db, keyId, stackId, wei);
  await new SealedCharges(db).hold({
    keyId,
    stackId,
    nonce: 1n,
    maxUnits: 10n,
    pricePerMillion: 1n,
    chargedWei: wei,
    floorWei,
  });
}

/** A new API key (no budget) named `name`: its id. */
export async function newKeyId(db: GatewayDb, name: string): Promise<string> {
  return (await new KeyStore(db).create({ name })).view.id;
}
