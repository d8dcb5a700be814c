import type { CatalogModel, CatalogNode } from "../../src/network/catalog.js";

/** The model "tiny" served by one task whose subscribers are `nodes`. */
export function oneTaskModel(nodes: CatalogNode[], securityLevel = 0): CatalogModel {
  return {
    name: "tiny",
    modelId: `0x${"ab".repeat(32)}`,
    firstSeen: 1,
    tasks: [{ taskId: 1n, securityLevel, nodes }],
  };
}
