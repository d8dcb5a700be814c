import { createRoot } from "react-dom/client";
import { App } from "./App.js";
import { loadConfig } from "./config.js";
import "./style.css";

const root = createRoot(document.getElementById("root")!);
loadConfig().then(
  (config) => root.render(<App config={config} />),
  (error: unknown) =>
    root.render(
      <p className="error" data-testid="config-error">
        {error instanceof Error ? error.message : String(error)}
      </p>,
    ),
);
