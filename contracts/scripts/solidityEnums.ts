/** The part of a solc AST node the enum search reads. */
export interface AstNode {
  nodeType: string;
  name?: string;
  canonicalName?: string;
  members?: { name: string }[];
  nodes?: AstNode[];
}

/** An enum a source declares: `Contract.Name` (or `Name` at file level) and its members in declaration order. */
export interface SolidityEnum {
  canonicalName: string;
  sourceName: string;
  members: string[];
}

/** The enums declared in a source unit, at file level or in its contracts and interfaces (the ABI has none). */
export function enumsOf(sourceName: string, ast: AstNode): SolidityEnum[] {
  const found: SolidityEnum[] = [];
  const walk = (node: AstNode) => {
    if (node.nodeType === "EnumDefinition")
      found.push({
        canonicalName: node.canonicalName ?? node.name ?? "",
        sourceName,
        members: (node.members ?? []).map((member) => member.name),
      });
    for (const child of node.nodes ?? []) walk(child);
  };
  walk(ast);
  return found;
}
