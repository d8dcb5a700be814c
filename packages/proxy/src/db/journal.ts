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
import { GatewayDatabaseError, GatewayLifecycleError } from "../errors.js";

/** A receipt a node signed for one of the gateway's stacks (`receiptToRow`'s text). */
export interface ReceiptRecord {
  kind: "receipt";
  receipt: Record<string, string>;
  /** The gateway refused it: it counts only up to its request's signed bound. */
  refused?: boolean | undefined;
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

/**
 * A request the gateway signed on a stack, written before it is sent: the node may commit it and never answer
 * (or the gateway die before its receipt), and the leaf at that nonce then carries the gateway's own signature.
 */
export interface SignedRecord {
  kind: "signed";
  stackId: string;
  nonce: string;
  /** The unit bound signed with it (absent in records from before bounds were signed). */
  maxUnits?: string | undefined;
  /** What was sent (path, body and `x-atoma-*` headers), to resend it unchanged; absent in older records. */
  request?: { path: string; json: string; headers: Record<string, string> } | undefined;
  atMs: number;
}

/** A request's reservation settled at its actual cost, and what it served (absent: it failed). */
export interface ChargeRecord {
  kind: "charge";
  reservationId: string;
  keyId: string;
  costWei: string;
  usage?: { model: string; day: string; tokens: string } | undefined;
  /** The stack the request was served on, where its refunds are split by charge (a confidential session's). */
  stackId?: string | undefined;
  /**
   * A sealed stream with no receipt charged its whole reservation: the charge held for its leaf, written in the
   * transaction that applies this charge, so neither lands without the other whenever the process dies.
   */
  sealedHold?: SealedHoldRecord | undefined;
}

/** A held sealed charge as journaled: uints as decimal text. */
export interface SealedHoldRecord {
  stackId: string;
  nonce: string;
  maxUnits: string;
  pricePerMillion: string;
  atMs: number;
  /** The request hash signed at that nonce (absent in records written before review s5 M2). */
  reqHash?: string | undefined;
  /** The least the charge settles at: the session's hold for the time it held the stack (absent: none). */
  floorWei?: string | undefined;
}

export type JournalRecord = ReceiptRecord | StackRecord | SignedRecord | ChargeRecord;
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
  #pendingSince: number | undefined;

  /** Opens `path` (created when absent): its records past `appliedSeq` are pending again. */
  constructor(path: string | undefined, appliedSeq: number) {
    this.#path = path;
    const read = path === undefined ? { records: [], intactBytes: 0 } : readJournalFile(path);
    this.#pending = read.records.filter((record) => record.seq > appliedSeq);
    if (this.#pending.length > 0) this.#pendingSince = performance.now();
    // A loop, not `Math.max(...seqs)`: a journal grown while the database was away holds too many for a spread.
    let seq = appliedSeq;
    for (const record of read.records) if (record.seq > seq) seq = record.seq;
    this.#seq = seq;
    if (path !== undefined) {
      this.#fd = openSync(path, "a", 0o600);
      // A torn last line is cut off, or the next record would be written onto it (and both be lost).
      if (statSync(path).size > read.intactBytes) ftruncateSync(this.#fd, read.intactBytes);
      this.#bytes = read.intactBytes;
    }
  }

  /** Appends one record; it is on its way to the database once this returns. */
  append(record: JournalRecord): void {
    if (this.#closed) throw new GatewayLifecycleError("the journal is closed");
    const sequenced: Sequenced = { ...record, seq: ++this.#seq };
    if (this.#fd !== undefined) {
      const line = `${JSON.stringify(sequenced)}\n`;
      try {
        writeFully(this.#fd, line);
      } catch (error) {
        // Cut off what part of the line got written, so the records appended later stay readable.
        ftruncateSync(this.#fd, this.#bytes);
        throw new GatewayDatabaseError("the journal could not be written", { cause: error });
      }
      this.#bytes += Buffer.byteLength(line);
    }
    this.#pending.push(sequenced);
    this.#pendingSince ??= performance.now();
  }

  /** The records not applied yet, oldest first, at most `max`. */
  pending(max: number): readonly Sequenced[] {
    return this.#pending.slice(0, max);
  }

  get pendingCount(): number {
    return this.#pending.length;
  }

  /** The sequence number of the last record appended (or read back). */
  get lastSeq(): number {
    return this.#seq;
  }

  /** When the oldest record still pending was appended (the process's clock); undefined when none is. */
  get pendingSince(): number | undefined {
    return this.#pendingSince;
  }

  /** The records up to `seq` are in the database: forgets them, and empties or rotates the file. */
  applied(seq: number): void {
    this.#pending = this.#pending.filter((record) => record.seq > seq);
    // Those left came after the batch was taken: counted from now (a bound on their wait, not their age).
    this.#pendingSince = this.#pending.length === 0 ? undefined : performance.now();
    if (this.#fd === undefined || this.#path === undefined) return;
    if (this.#pending.length === 0) {
      ftruncateSync(this.#fd, 0);
      this.#bytes = 0;
    } else if (this.#bytes > ROTATE_BYTES) {
      const next = `${this.#path}.next`;
      // Append mode, as the first file: emptying it later must not leave the write offset past the end.
      const fd = openSync(next, "a", 0o600);
      ftruncateSync(fd, 0);
      const text = this.#pending.map((record) => `${JSON.stringify(record)}\n`).join("");
      writeFully(fd, text);
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

/** Writes all of `text`: a short write (a full disk) must fail loudly, never leave half a record behind. */
function writeFully(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  let written = 0;
  while (written < bytes.length) {
    const n = writeSync(fd, bytes, written, bytes.length - written);
    if (n <= 0) throw new GatewayDatabaseError("the journal could not be written");
    written += n;
  }
}

/** The records of a journal file; a last line cut short (a write the process never finished) is dropped. */
export function readJournal(path: string): Sequenced[] {
  return readJournalFile(path).records;
}

/**
 * The records of a journal file, and how many of its bytes hold them: only the last line may be unreadable (a
 * write cut short by a kill); an unreadable line before it is damage the gateway will not guess past.
 */
function readJournalFile(path: string): { records: Sequenced[]; intactBytes: number } {
  if (!existsSync(path)) return { records: [], intactBytes: 0 };
  const bytes = readFileSync(path);
  const records: Sequenced[] = [];
  let start = 0;
  let line = 0;
  while (start < bytes.length) {
    const newline = bytes.indexOf(0x0a, start);
    const end = newline === -1 ? bytes.length : newline + 1;
    line++;
    const text = bytes.toString("utf8", start, newline === -1 ? end : newline);
    if (text !== "") {
      const record = parseRecord(text);
      if (record === undefined) {
        if (end < bytes.length)
          throw new GatewayDatabaseError(
            `the journal ${path} is damaged at line ${line} (not its last line)`,
          );
        return { records, intactBytes: start };
      }
      if (newline === -1) return { records, intactBytes: start }; // whole JSON, but its newline never written
      records.push(record);
    }
    start = end;
  }
  return { records, intactBytes: bytes.length };
}

function parseRecord(text: string): Sequenced | undefined {
  try {
    const record = JSON.parse(text) as Sequenced;
    return typeof record === "object" && record !== null && typeof record.seq === "number"
      ? record
      : undefined;
  } catch {
    return undefined;
  }
}
