import { NodeRequestError } from "../errors.js";

/** How long a node may take to see a stack bought from it (it reads the chain), in milliseconds. */
const NEW_STACK_WAIT_MS = 30_000;
const NEW_STACK_POLL_MS = 250;

/**
 * Sends on a stack; a node that does not know a stack just bought yet is asked again until it does, but only until it
 * has answered once on that stack: after that, `unknown_stack` is a refusal like any other (waiting on it would count
 * the node's pause as time generating, and let a node hold back its answers). The answer is timed (`elapsedMs`) from
 * before the first try, from the request sent, not from its first content: a node that refuses the first tries while
 * it generates (or holds its tokens back) and then sends the answer at once would otherwise look as fast as it pleased.
 * The wait of an honest node to see a new stack lands in its first answer's time on it (a bias against it, for one
 * answer of its window).
 */
export class NewStackSends {
  /** Stacks bought by this client that a node has answered on. */
  readonly #answeredOn = new Set<bigint>();

  async send<T extends object>(
    stack: { stackId: bigint; bought: boolean },
    send: () => Promise<T>,
  ): Promise<T & { elapsedMs: number }> {
    const startedAt = performance.now();
    const giveUpAt = Date.now() + NEW_STACK_WAIT_MS;
    for (;;) {
      try {
        const sent = await send();
        if (stack.bought) this.#answeredOn.add(stack.stackId);
        return { ...sent, elapsedMs: performance.now() - startedAt };
      } catch (error) {
        const unseen = error instanceof NodeRequestError && error.code === "unknown_stack";
        const mayWait = stack.bought && !this.#answeredOn.has(stack.stackId) && Date.now() < giveUpAt;
        if (!(unseen && mayWait)) throw error;
        await new Promise((resolve) => setTimeout(resolve, NEW_STACK_POLL_MS));
      }
    }
  }
}
