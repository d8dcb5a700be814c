import type { ChainSnapshot } from "../chain/chainFeed.js";
import { modelsOf, tasksOf } from "../chain/summary.js";

const STATUS = ["none", "pending", "active", "disabled", "retired"];
const LEVEL = ["none", "cross-validation", "consensus", "confidential"];

export function ModelsPage({ chain }: { chain: ChainSnapshot }) {
  const models = modelsOf(chain.events);
  const tasks = [...tasksOf(chain.events).values()];
  return (
    <section>
      <h2>Models</h2>
      <table data-testid="models">
        <thead>
          <tr>
            <th>Model</th>
            <th>Owner</th>
            <th>Weights root</th>
            <th>Status</th>
            <th>Tasks</th>
            <th>Mismatch reports</th>
          </tr>
        </thead>
        <tbody>
          {models.map((model) => (
            <tr key={model.id} data-testid="model" data-model={model.id}>
              <td title={model.id}>{model.uri || model.id}</td>
              <td className="mono" data-testid="model-owner">
                {model.owner}
              </td>
              <td className="mono" data-testid="weights-root">
                {model.weightsRoot}
              </td>
              <td data-testid="model-status">{STATUS[model.status] ?? model.status}</td>
              <td>
                {tasks
                  .filter((task) => task.modelId === model.id)
                  .map(
                    (task) =>
                      `#${task.id} ${LEVEL[task.securityLevel] ?? task.securityLevel}, p = ${task.replicationPpm / 1e6}`,
                  )
                  .join("; ")}
              </td>
              <td data-testid="mismatch-reports">
                {model.mismatchReports.length === 0 ? (
                  "none"
                ) : (
                  <ul>
                    {model.mismatchReports.map((r) => (
                      <li key={`${r.tx}-${r.logIndex}`} data-testid="mismatch-report">
                        node #{String(r.nodeId)} at block {String(r.block)} (report {r.reports} of this round)
                      </li>
                    ))}
                  </ul>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
