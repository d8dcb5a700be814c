import type {
  ColumnUpdateNode,
  InsertQueryNode,
  KyselyPlugin,
  OperationNode,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
  UpdateQueryNode,
} from "kysely";
import type Database from "libsql";
import { IntegerColumnRangeError } from "../../errors.js";
import { pragmaValueRows } from "./pragma.js";

const MIN_INT64 = -(1n << 63n);
const MAX_INT64 = (1n << 63n) - 1n;

function tableName(node: OperationNode | undefined): string | undefined {
  if (!node) return undefined;
  if (node.kind === "TableNode")
    return (node as unknown as { table: { identifier: { name: string } } }).table.identifier.name;
  if (node.kind === "AliasNode") return tableName((node as unknown as { node: OperationNode }).node);
  return undefined;
}

function columnName(node: OperationNode): string | undefined {
  return node.kind === "ColumnNode"
    ? (node as unknown as { column: { name: string } }).column.name
    : undefined;
}

function nodeValue(node: OperationNode): unknown {
  return node.kind === "ValueNode" ? (node as unknown as { value: unknown }).value : undefined;
}

/**
 * Refuses, before SQLite sees it, a `bigint` outside int64 written to an `INTEGER` column: SQLite would store it as
 * a REAL (about 15 significant digits) and hand back a lossy `number` (review M3). uint256 values belong in the
 * `TEXT` columns (`values.ts`); a count that does not fit is the caller's to check (`checkCount`). The columns'
 * declared types are read from SQLite (`pragma table_info`) per table, once it has columns.
 */
export class IntegerColumnsPlugin implements KyselyPlugin {
  readonly #raw: Database.Database;
  readonly #integers = new Map<string, Set<string>>();

  constructor(raw: Database.Database) {
    this.#raw = raw;
  }

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const node = args.node;
    if (node.kind === "InsertQueryNode") this.#checkInsert(node as InsertQueryNode);
    else if (node.kind === "UpdateQueryNode") this.#checkUpdate(node as UpdateQueryNode);
    return node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }

  #integerColumns(table: string): Set<string> {
    let columns = this.#integers.get(table);
    if (!columns) {
      const rows = pragmaValueRows(this.#raw, `table_info(${JSON.stringify(table)})`);
      columns = new Set(
        rows.filter((row) => String(row.type).toLowerCase() === "integer").map((row) => String(row.name)),
      );
      if (rows.length > 0) this.#integers.set(table, columns);
    }
    return columns;
  }

  #check(table: string, column: string | undefined, value: unknown): void {
    if (column === undefined || typeof value !== "bigint" || (value >= MIN_INT64 && value <= MAX_INT64))
      return;
    if (this.#integerColumns(table).has(column)) throw new IntegerColumnRangeError(table, column, value);
  }

  #checkUpdates(table: string, updates: readonly ColumnUpdateNode[] | undefined): void {
    for (const update of updates ?? [])
      this.#check(table, columnName(update.column), nodeValue(update.value));
  }

  #checkInsert(node: InsertQueryNode): void {
    const table = tableName(node.into);
    if (!table) return;
    const columns = (node.columns ?? []).map((column) => columnName(column));
    const values = node.values as (OperationNode & { values?: readonly unknown[] }) | undefined;
    for (const row of values?.kind === "ValuesNode" ? (values.values as OperationNode[]) : []) {
      const items = (row as unknown as { values: readonly unknown[] }).values;
      items.forEach((item, i) => {
        const value = row.kind === "PrimitiveValueListNode" ? item : nodeValue(item as OperationNode);
        this.#check(table, columns[i], value);
      });
    }
    this.#checkUpdates(table, node.onConflict?.updates);
  }

  #checkUpdate(node: UpdateQueryNode): void {
    const table = tableName(node.table);
    if (table) this.#checkUpdates(table, node.updates);
  }
}
