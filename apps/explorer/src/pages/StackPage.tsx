import { useState } from "react";
import { big, named } from "../chain/chainEvent.js";
import type { ChainSnapshot } from "../chain/chainFeed.js";
import { stackLife } from "../chain/stackLife.js";

export function StackPage({ chain, stackId }: { chain: ChainSnapshot; stackId: bigint | undefined }) {
  const stacks = named(chain.events, "StackBought").map((e) => big(e, "stackId"));
  const [typed, setTyped] = useState(stackId === undefined ? "" : String(stackId));
  return (
    <section>
      <h2>A stack's life</h2>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (/^\d+$/.test(typed)) window.location.hash = `#/stack/${typed}`;
        }}
      >
        <label>
          Stack id <input value={typed} onChange={(e) => setTyped(e.target.value)} inputMode="numeric" />
        </label>
        <button type="submit">Show</button>
      </form>
      <p className="stack-list">
        Stacks bought:{" "}
        {stacks.length === 0
          ? "none yet"
          : stacks.map((id) => (
              <a key={String(id)} href={`#/stack/${id}`}>
                #{String(id)}{" "}
              </a>
            ))}
      </p>
      {stackId !== undefined && <Timeline chain={chain} stackId={stackId} />}
    </section>
  );
}

function Timeline({ chain, stackId }: { chain: ChainSnapshot; stackId: bigint }) {
  const life = stackLife(chain.events, stackId);
  if (life.entries.length === 0) return <p>No events for stack #{String(stackId)} on this chain.</p>;
  return (
    <div data-testid="stack-life">
      <h3>Stack #{String(stackId)}</h3>
      <ol className="stages">
        {life.stages.map((stage) => (
          <li key={stage.name} className={stage.done ? "done" : "open"} data-testid="stage">
            {stage.name}
          </li>
        ))}
      </ol>
      <ol className="timeline">
        {life.entries.map(({ event, text }) => (
          <li key={`${event.tx}-${event.logIndex}`} data-testid={`timeline-${event.name}`}>
            <span className="block">block {String(event.block)}</span> <strong>{event.name}</strong> {text}
          </li>
        ))}
      </ol>
    </div>
  );
}
