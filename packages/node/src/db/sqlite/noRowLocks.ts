import {
  type KyselyPlugin,
  OperationNodeTransformer,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  type SelectQueryNode,
  type UnknownRow,
} from "kysely";

class RowLockRemover extends OperationNodeTransformer {
  protected override transformSelectQuery(node: SelectQueryNode): SelectQueryNode {
    const transformed = super.transformSelectQuery(node);
    const modifiers = transformed.endModifiers;
    if (!modifiers?.some((modifier) => modifier.modifier === "ForUpdate")) return transformed;
    const { endModifiers: _dropped, ...rest } = transformed;
    const kept = modifiers.filter((modifier) => modifier.modifier !== "ForUpdate");
    return kept.length > 0 ? { ...rest, endModifiers: kept } : rest;
  }
}

/**
 * Drops `for update` from selects on SQLite, which has no row locks and needs none here: the node holds its one
 * connection for a whole transaction, so every transaction runs alone (`libsqlDialect.ts`).
 */
export class NoRowLocksPlugin implements KyselyPlugin {
  readonly #remover = new RowLockRemover();

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.#remover.transformNode(args.node);
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}
