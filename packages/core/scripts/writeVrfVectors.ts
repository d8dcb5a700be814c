import { writeFileSync } from "node:fs";
import { buildVrfVectors } from "../src/vrf/vrfVectorCases.js";

const path = new URL("../vectors/vrf.json", import.meta.url);
writeFileSync(path, `${JSON.stringify(buildVrfVectors(), null, 2)}\n`);
