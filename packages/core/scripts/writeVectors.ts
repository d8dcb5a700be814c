import { writeFileSync } from "node:fs";
import { buildVectors } from "../src/vectorCases.js";

const path = new URL("../vectors/encodings.json", import.meta.url);
writeFileSync(path, `${JSON.stringify(await buildVectors(), null, 2)}\n`);
