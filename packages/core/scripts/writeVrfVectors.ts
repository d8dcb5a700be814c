import { writeFileSync } from "node:fs";
import { buildVrfDisputeVectors } from "../src/vrf/disputeSelectionVectorCases.js";
import { buildVrfReplacementVectors, buildVrfSelectionVectors } from "../src/vrf/vrfSelectionVectorCases.js";
import { buildVrfVectors } from "../src/vrf/vrfVectorCases.js";

const path = new URL("../vectors/vrf.json", import.meta.url);
writeFileSync(path, `${JSON.stringify(buildVrfVectors(), null, 2)}\n`);
const selection = new URL("../vectors/vrfSelection.json", import.meta.url);
writeFileSync(selection, `${JSON.stringify(buildVrfSelectionVectors(), null, 2)}\n`);
const dispute = new URL("../vectors/vrfDispute.json", import.meta.url);
writeFileSync(dispute, `${JSON.stringify(buildVrfDisputeVectors(), null, 2)}\n`);
const replacement = new URL("../vectors/vrfReplacement.json", import.meta.url);
writeFileSync(replacement, `${JSON.stringify(buildVrfReplacementVectors(), null, 2)}\n`);
