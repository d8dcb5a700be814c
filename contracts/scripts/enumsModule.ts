import type { SolidityEnum } from "./solidityEnums.js";

/**
 * The TypeScript name of a contract's enum: the contract's stem (its name without an interface's `I`, a `Manager`
 * or `Registry` suffix, or a plural `s`) before the enum's name, unless that already starts with it:
 * `ISettlementManager.Phase` → `SettlementPhase`, `DisputeManager.Kind` → `DisputeKind`,
 * `ConsensusRequests.Status` → `ConsensusRequestStatus`, `IStackManager.StackStatus` → `StackStatus`.
 */
export function enumExportName(canonicalName: string): string {
  const dot = canonicalName.lastIndexOf(".");
  const owner = canonicalName.slice(0, Math.max(dot, 0));
  const name = canonicalName.slice(dot + 1);
  const stem = owner
    .replace(/^I(?=[A-Z])/, "")
    .replace(/(Manager|Registry)$/, "")
    .replace(/s$/, "");
  return name.startsWith(stem) ? name : `${stem}${name}`;
}

const lowerFirst = (name: string) => name.charAt(0).toLowerCase() + name.slice(1);

/**
 * `generated/enums.ts`: each enum as an `as const` object of its members' values (their declaration order, as
 * the contracts store them), a type of those values, and the members' names by value.
 */
export function enumsModule(enums: SolidityEnum[], header: string): string {
  const named = enums
    .map((e) => ({ ...e, exportName: enumExportName(e.canonicalName) }))
    .sort((a, b) => a.exportName.localeCompare(b.exportName));
  const clash = named.find((e, i) => named.findIndex((o) => o.exportName === e.exportName) !== i);
  if (clash) throw new Error(`two enums would both be exported as ${clash.exportName}`);
  const blocks = named.map(({ canonicalName, sourceName, members, exportName }) => {
    const values = members.map((member, value) => `${member}: ${value}`).join(", ");
    return (
      `/** \`${canonicalName}\` (${sourceName}): each member's value. */\n` +
      `export const ${exportName} = { ${values} } as const;\n` +
      `export type ${exportName} = (typeof ${exportName})[keyof typeof ${exportName}];\n` +
      `/** The members of \`${canonicalName}\`, by value. */\n` +
      `export const ${lowerFirst(exportName)}Names = ${JSON.stringify(members)} as const;\n`
    );
  });
  return `${header}${blocks.join("\n")}`;
}
