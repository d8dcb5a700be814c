import { writeFileSync } from "node:fs";
import { buildAttestationVectors } from "../src/confidential/attestationVectorCases.js";

const path = new URL("../vectors/attestation.json", import.meta.url);
writeFileSync(path, `${JSON.stringify(buildAttestationVectors(), null, 2)}\n`);
