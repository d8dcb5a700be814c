import { Worker } from "node:worker_threads";
import { GatewayLifecycleError } from "../errors.js";
import { errorOf, type PgliteReply, type PgliteRequest } from "./pgliteMessages.js";

/** What `EmbeddedPool` needs of PGlite. */
export interface EmbeddedQueries {
  query(
    statement: string,
    parameters: unknown[],
  ): Promise<{ rows: unknown[]; affectedRows?: number | undefined }>;
  close(): Promise<void>;
}

interface Waiting {
  resolve: (reply: PgliteReply) => void;
  reject: (error: Error) => void;
}

/**
 * PGlite on its own thread (`pgliteWorker.ts`). PGlite runs each statement synchronously in WebAssembly: on the
 * gateway's thread, every journal flush (a dozen statements, 5–100 ms by the machine's load) held every request
 * that arrived meanwhile, which was the gateway's p99. Here a statement costs a message each way instead. The
 * thread keeps the process alive only while a statement is under way.
 */
export class PgliteThread implements EmbeddedQueries {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, Waiting>();
  #nextId = 1;
  readonly #exited: Promise<void>;
  #gone: Error | undefined;
  #closing: Promise<void> | undefined;
  #opened = false;
  readonly #onLost: ((error: Error) => void) | undefined;

  private constructor(worker: Worker, onLost: ((error: Error) => void) | undefined) {
    this.#worker = worker;
    this.#onLost = onLost;
    this.#exited = new Promise((resolve) => worker.once("exit", () => resolve()));
    worker.on("message", (reply: PgliteReply) => {
      const waiting = this.#waiting.get(reply.id);
      if (!waiting) return;
      this.#waiting.delete(reply.id);
      if (this.#waiting.size === 0) worker.unref();
      if (reply.error) waiting.reject(errorOf(reply.error));
      else waiting.resolve(reply);
    });
    const fail = (error: Error) => {
      const first = this.#gone === undefined;
      this.#gone ??= error;
      for (const waiting of this.#waiting.values()) waiting.reject(this.#gone);
      this.#waiting.clear();
      if (first && this.#opened && this.#closing === undefined) this.#onLost?.(this.#gone);
    };
    worker.on("error", fail);
    worker.on("exit", (code) =>
      fail(new GatewayLifecycleError(`the embedded database's thread exited (${code})`)),
    );
  }

  /**
   * Opens (creating when new) the database in `dir` on a new thread. `onLost` is told, once, when the thread ends
   * or fails other than by `close()` (review proxy-speed L7): every statement fails from then on, so the gateway
   * must stop rather than serve answers it cannot charge.
   */
  static async open(
    dir: string,
    settings: Readonly<Record<string, string>>,
    onLost?: ((error: Error) => void) | undefined,
  ): Promise<PgliteThread> {
    const worker = import.meta.url.endsWith(".ts")
      ? // Tests run the TypeScript sources: the thread loads its own through tsx.
        new Worker(
          `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL("./pgliteWorker.ts", import.meta.url).href)}); });`,
          { eval: true, workerData: { dir, settings } },
        )
      : // None of the process's own flags (`--input-type`, `--cpu-prof`…): a worker refuses some, needs none.
        new Worker(new URL("./pgliteWorker.js", import.meta.url), {
          workerData: { dir, settings },
          execArgv: [],
        });
    const thread = new PgliteThread(worker, onLost);
    try {
      await thread.#ask({ id: 0 });
    } catch (error) {
      await worker.terminate();
      throw error;
    }
    thread.#opened = true;
    return thread;
  }

  async query(statement: string, parameters: unknown[]) {
    const reply = await this.#ask({ id: this.#nextId++, statement, parameters });
    return { rows: reply.rows ?? [], affectedRows: reply.affectedRows };
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#gone) return;
      await this.#ask({ id: this.#nextId++ });
      // A thread that does not end once its database closed is ended.
      const timer = setTimeout(() => void this.#worker.terminate(), 5_000);
      await this.#exited;
      clearTimeout(timer);
    })();
    return this.#closing;
  }

  /** Ends the thread at once, as a crash of it would (its database left as a crash leaves it). */
  async terminate(): Promise<void> {
    await this.#worker.terminate();
    await this.#exited;
  }

  #ask(request: PgliteRequest): Promise<PgliteReply> {
    if (this.#gone) return Promise.reject(this.#gone);
    return new Promise((resolve, reject) => {
      this.#waiting.set(request.id, { resolve, reject });
      this.#worker.ref();
      if (request.id !== 0) this.#worker.postMessage(request);
    });
  }
}
