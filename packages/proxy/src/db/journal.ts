import {
  closeSync,
  existsSync,
  ftruncateSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from "node:fs";
import { GatewayLifecycleError } from "../errors.js";

/** A receipt a node signed for one of the gateway's stacks (`receiptToRow`'s text). */
export interface ReceiptRecord {
  kind: "receipt";
  receipt: Record<string, string>;
  atMs: number;
}

/** Where a stack's running total and nonce stand after a request. */
export interface StackRecord {
  kind: "stack";
  stackId: string;
  unitsUsed: string;
  nextNonce: string;
  atMs: number;
}

/** A request's reservation settled at its actual cost, and what it served (absent: it failed). */
export interface ChargeRecord {
  kind: "charge";
  reservationId: string;
  keyId: string;
  costWei: string;
  usage?: { model: string; day: string; tokens: string } | undefined;
}

export type JournalRecord = ReceiptRecord | StackRecord | ChargeRecord;
export type Sequenced = JournalRecord & { seq: number };

/** Past this size, the applied head of the file is cut off (the records still pending are rewritten). */
const ROTATE_BYTES = 4 * 1024 * 1024;

/**
 * What the gateway owes its database, written before the client is answered: each record is one line appended
 * with a synchronous `write` (no fsync: a process killed with SIGKILL leaves its writes in the page cache; a
 * machine that loses power loses the last ones). `JournalFlusher` applies the records in batches and calls
 * `applied`; a restart replays the lines past the position the database holds. Without a path the journal is
 * memory only (tests; nothing survives the process).
 */
export class Journal {
  readonly #path: string | undefined;
  #fd: number | undefined;
  #seq: number;
  #pending: Sequenced[];
  #bytes = 0;
  #closed = false;

  /** Opens `path` (created when absent): its records past `appliedSeq` are pending again. */
  constructor(path: string | undefined, appliedSeq: number) {
    this.#path = path;
    const kept = path === undefined ? [] : readJournal(path);
    this.#pending = kept.filter((record) => record.seq > appliedSeq);
    this.#seq = Math.max(appliedSeq, ...kept.map((record) => record.seq));
    if (path !== undefined) {
      this.#fd = openSync(path, "a", 0o600);
      this.#bytes = statSync(path).size;
    }
  }

  /** Appends one record; it is on its way to the database once this returns. */
  append(record: JournalRecord): void {
    if (this.#closed) throw new GatewayLifecycleError("the journal is closed");
    const sequenced: Sequenced = { ...record, seq: ++this.#seq };
    if (this.#fd !== undefined) {
      const line = `${JSON.stringify(sequenced)}\n`;
      writeSync(this.#fd, line);
      this.#bytes += Buffer.byteLength(line);
    }
    this.#pending.push(sequenced);
  }

  /** The records not applied yet, oldest first, at most `max`. */
  pending(max: number): readonly Sequenced[] {
    return this.#pending.slice(0, max);
  }

  get pendingCount(): number {
    return this.#pending.length;
  }

  /** The records up to `seq` are in the database: forgets them, and empties or rotates the file. */
  applied(seq: number): void {
    this.#pending = this.#pending.filter((record) => record.seq > seq);
    if (this.#fd === undefined || this.#path === undefined) return;
    if (this.#pending.length === 0) {
      ftruncateSync(this.#fd, 0);
      this.#bytes = 0;
    } else if (this.#bytes > ROTATE_BYTES) {
      const next = `${this.#path}.next`;
      const fd = openSync(next, "w", 0o600);
      const text = this.#pending.map((record) => `${JSON.stringify(record)}\n`).join("");
      writeSync(fd, text);
      renameSync(next, this.#path);
      closeSync(this.#fd);
      this.#fd = fd;
      this.#bytes = Buffer.byteLength(text);
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

/** The records of a journal file; a last line cut short (a write the process never finished) is dropped. */
export function readJournal(path: string): Sequenced[] {
  if (!existsSync(path)) return [];
  const records: Sequenced[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line === "") continue;
    try {
      records.push(JSON.parse(line) as Sequenced);
    } catch {
      // only a line whose write was cut short
    }
  }
  return records;
}
