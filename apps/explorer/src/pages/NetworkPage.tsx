import { type AttestationState, attestationState, shortHex } from "../chain/attestationState.js";
import type { ChainSnapshot } from "../chain/chainFeed.js";
import { nodeSummaries, totalsOf } from "../chain/summary.js";
import { type NodeStandings, standingLabel, takesWork } from "../chain/taskStanding.js";
import { nodeStatusName, toma } from "../format.js";
import { useHealth } from "../health.js";

export function NetworkPage({ chain }: { chain: ChainSnapshot }) {
  const nodes = nodeSummaries(chain.events, chain.nodes);
  const totals = totalsOf(chain.events, chain.nodes);
  const health = useHealth(nodes.map((n) => n.url));
  return (
    <section>
      <h2>Network</h2>
      <dl className="totals" data-testid="totals">
        <div>
          <dt>TOMA staked</dt>
          <dd data-testid="total-staked">{toma(totals.staked)}</dd>
        </div>
        <div>
          <dt>Fees paid</dt>
          <dd data-testid="total-fees">{toma(totals.feesPaid)}</dd>
        </div>
        <div>
          <dt>Slashed</dt>
          <dd data-testid="total-slashed">{toma(totals.slashed)}</dd>
        </div>
        <div>
          <dt>Burned</dt>
          <dd data-testid="total-burned">{toma(totals.burned)}</dd>
        </div>
      </dl>
      <table data-testid="nodes">
        <thead>
          <tr>
            <th>Node</th>
            <th>Status</th>
            <th>Stake</th>
            <th>Reputation</th>
            <th>Price /1M</th>
            <th>Echelon</th>
            <th>Models</th>
            <th>Attestation</th>
            <th>Health</th>
            <th>Latency</th>
            <th>Stacks</th>
            <th>Settlements</th>
            <th>Slashes</th>
          </tr>
        </thead>
        <tbody>
          {nodes.map((node) => {
            const h = health.get(node.url);
            const prices = [...new Set([...node.prices.values()].map(toma))].join(", ");
            const slashed = node.slashes.reduce((a, s) => a + s.amount, 0n);
            return (
              <tr
                key={String(node.id)}
                data-testid={`node-${node.id}`}
                className={node.status === 3 ? "slashed" : ""}
              >
                <td title={`operator ${node.operator}\nsigner ${node.signer}`}>
                  #{String(node.id)} <small>{node.url}</small>
                </td>
                <td data-testid="node-status">{nodeStatusName(node.status)}</td>
                <td data-testid="node-stake">{toma(node.collateral)}</td>
                <td data-testid="node-reputation">{node.reputation}</td>
                <td>{prices || "—"}</td>
                <td data-testid="node-echelon">{node.echelon}</td>
                <td>{node.models.join(", ") || "—"}</td>
                <AttestationCell
                  state={attestationState(node.attestation, chain.time)}
                  standings={node.standings}
                />
                <td data-testid="node-health">{h?.status ?? "…"}</td>
                <td>{h?.latencyMs === undefined ? "—" : `${h.latencyMs} ms`}</td>
                <td data-testid="node-stacks">{node.stacksServed}</td>
                <td data-testid="node-settlements">{node.settlements}</td>
                <td data-testid="node-slashes">
                  {node.slashes.length === 0 ? "0" : `${node.slashes.length} (${toma(slashed)} TOMA)`}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <RecentActivity chain={chain} />
    </section>
  );
}

/**
 * The node's attestation: its kind (or missing, expired), the measurement, key and expiry the chain holds, and its
 * standing on each confidential task it subscribes to (a current record can still be refused by a task).
 */
function AttestationCell({
  state,
  standings,
}: {
  state: AttestationState;
  standings: NodeStandings | undefined;
}) {
  const { record } = state;
  return (
    <td data-testid="node-attestation" className={`attestation-${state.state}`}>
      <span data-testid="attestation-label">{state.label}</span>
      {record && (
        <small>
          {" "}
          <span data-testid="attestation-measurement" title={record.measurement}>
            measurement {shortHex(record.measurement)}
          </span>
          {", "}
          <span data-testid="attestation-key" title={record.encryptionKey}>
            key {shortHex(record.encryptionKey)}
          </span>
          {", "}
          <span data-testid="attestation-expiry" title={String(record.expiresAt)}>
            {state.state === "expired" ? "expired" : "until"}{" "}
            {new Date(Number(record.expiresAt) * 1000).toISOString().replace(".000Z", "Z")}
          </span>
        </small>
      )}
      {standings && (standings.tasks.length > 0 || standings.more > 0) && (
        <ul className="standings" data-testid="task-standings">
          {standings.tasks.map((task) => (
            <li
              key={String(task.taskId)}
              data-testid={`standing-${task.taskId}`}
              className={takesWork(task) ? "standing-ok" : "standing-refused"}
            >
              task {String(task.taskId)}: {standingLabel(task)}
            </li>
          ))}
          {standings.more > 0 && <li data-testid="standings-more">+{standings.more} more</li>}
        </ul>
      )}
    </td>
  );
}

const SHOWN = [
  "StackBought",
  "SettlementSubmitted",
  "SettlementFinalized",
  "SettlementDisputed",
  "NodeSlashed",
  "FraudProven",
];

function RecentActivity({ chain }: { chain: ChainSnapshot }) {
  const recent = chain.events
    .filter((e) => SHOWN.includes(e.name))
    .slice(-15)
    .reverse();
  return (
    <>
      <h3>Latest activity</h3>
      <ul className="activity" data-testid="activity">
        {recent.map((e) => {
          const stackId = e.args.stackId;
          return (
            <li key={`${e.tx}-${e.logIndex}`} data-testid={`activity-${e.name}`}>
              <span className="block">block {String(e.block)}</span> {e.name}
              {e.args.nodeId !== undefined && ` node #${String(e.args.nodeId)}`}
              {e.name === "NodeSlashed" && ` ${toma(e.args.amount as bigint)} TOMA`}
              {stackId !== undefined && (
                <>
                  {" "}
                  <a href={`#/stack/${String(stackId)}`}>stack #{String(stackId)}</a>
                </>
              )}
            </li>
          );
        })}
      </ul>
    </>
  );
}
