import { createRoot } from "react-dom/client";
import { App } from "./App.js";
import { ForeignNetworkError, loadConfig } from "./config.js";
import { withoutNetworkParam } from "./networkSource.js";
import "./style.css";

const root = createRoot(document.getElementById("root")!);

function load(confirmed: boolean): void {
  loadConfig(window.location, confirmed).then(
    (config) => root.render(<App config={config} />),
    (error: unknown) =>
      root.render(
        error instanceof ForeignNetworkError ? (
          <ConfirmForeign source={error.source} />
        ) : (
          <p className="error" data-testid="config-error">
            {error instanceof Error ? error.message : String(error)}
          </p>
        ),
      ),
  );
}

/** Another site's network description is read only when the user says so. */
function ConfirmForeign({ source }: { source: string }) {
  return (
    <section className="error" data-testid="network-confirm">
      <p>
        This link asks the explorer to read its network from{" "}
        <code data-testid="network-source">{source}</code>, another site. That description decides which chain
        you see and where the playground sends your questions and API key. Load it only if you trust it.
      </p>
      <button type="button" data-testid="network-load" onClick={() => load(true)}>
        Load it
      </button>{" "}
      <button
        type="button"
        data-testid="network-own"
        onClick={() => window.location.assign(withoutNetworkParam(window.location))}
      >
        Use this page's own network
      </button>
    </section>
  );
}

load(false);
