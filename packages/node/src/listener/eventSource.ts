import type { Abi, Address, ContractEventName, Log } from "viem";
import type { NodeDb } from "../db/openStateDatabase.js";

/** A decoded contract event, mined (block number, hash and log index are set). */
export type ChainEvent<
  TAbi extends Abi = Abi,
  TName extends ContractEventName<TAbi> = ContractEventName<TAbi>,
> = Log<bigint, number, false, undefined, true, TAbi, TName>;

/**
 * What a handler may use. `db` is the transaction that also advances the listener's cursor: write every effect
 * through it, and never act outside the database (send a transaction, call a server, read the chain) from a
 * handler — record the work in a table that a worker picks up instead. Then an event's effects commit exactly once.
 * A handler that must read the chain first is a `ChainReadingHandler`: its reads run before the transaction opens.
 */
export interface EventContext {
  db: NodeDb;
}

export type EventHandler<
  TAbi extends Abi = Abi,
  TName extends ContractEventName<TAbi> = ContractEventName<TAbi>,
> = (event: ChainEvent<TAbi, TName>, context: EventContext) => Promise<void>;

/** The database writes a `ChainReadingHandler` decided on, run in the listener's transaction. */
export type EventWrite = (context: EventContext) => Promise<void>;

/**
 * A handler that needs the chain (the node's id, a dispute's record): `read` runs before the listener opens its
 * transaction and returns the writes to run in it, or undefined to change nothing. On the embedded SQLite store the
 * node has one connection, which every request's reserve and commit waits for: an RPC call made inside the
 * transaction (slow, or retried with back-off) would hold all of them (review M1). If the range's transaction is
 * rolled back, its events are read again on the retry.
 */
export interface ChainReadingHandler<
  TAbi extends Abi = Abi,
  TName extends ContractEventName<TAbi> = ContractEventName<TAbi>,
> {
  read(event: ChainEvent<TAbi, TName>): Promise<EventWrite | undefined>;
}

/** One contract whose events some part of the node handles. Build it with `eventSource` to type the handlers. */
export interface ChainEventSource {
  /** Who handles these events, for logs. */
  name: string;
  address: Address;
  abi: Abi;
  handlers: Partial<Record<string, EventHandler | ChainReadingHandler>>;
}

export interface TypedEventSource<TAbi extends Abi> {
  name: string;
  address: Address;
  abi: TAbi;
  /** Event name → handler; events without one are skipped. */
  handlers: {
    [TName in ContractEventName<TAbi>]?: EventHandler<TAbi, TName> | ChainReadingHandler<TAbi, TName>;
  };
}

/** Declares the events of one contract a part handles, with handlers typed by the contract's ABI. */
export function eventSource<const TAbi extends Abi>(source: TypedEventSource<TAbi>): ChainEventSource {
  return source as unknown as ChainEventSource;
}
