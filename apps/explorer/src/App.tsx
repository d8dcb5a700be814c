import { useEffect, useState, useSyncExternalStore } from "react";
import { ChainFeed } from "./chain/chainFeed.js";
import type { ExplorerConfig } from "./config.js";
import { EconomicsPage } from "./pages/EconomicsPage.js";
import { ModelsPage } from "./pages/ModelsPage.js";
import { NetworkPage } from "./pages/NetworkPage.js";
import { PageBoundary } from "./pages/PageBoundary.js";
import { Playground } from "./pages/Playground.js";
import { StackPage } from "./pages/StackPage.js";

type Route = { page: "network" | "stack" | "playground" | "models" | "economics"; stackId?: bigint };

function routeOf(hash: string): Route {
  const [, page = "network", id] = hash.replace(/^#/, "").split("/");
  if (page === "stack") return { page, ...(id && /^\d+$/.test(id) ? { stackId: BigInt(id) } : {}) };
  if (page === "playground" || page === "models" || page === "economics") return { page };
  return { page: "network" };
}

function useRoute(): Route {
  const [hash, setHash] = useState(window.location.hash);
  useEffect(() => {
    const onChange = () => setHash(window.location.hash);
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return routeOf(hash);
}

const LINKS = [
  ["network", "Network"],
  ["stack", "Stacks"],
  ["playground", "Playground"],
  ["models", "Models"],
  ["economics", "Economics"],
] as const;

export function App({ config }: { config: ExplorerConfig }) {
  const [feed] = useState(() => new ChainFeed(config.network));
  useEffect(() => {
    feed.start();
    return () => feed.stop();
  }, [feed]);
  const chain = useSyncExternalStore(feed.subscribe, feed.snapshot);
  const route = useRoute();
  return (
    <>
      <header>
        <h1>Atoma explorer</h1>
        <nav>
          {LINKS.map(([page, label]) => (
            <a key={page} href={`#/${page}`} className={route.page === page ? "current" : ""}>
              {label}
            </a>
          ))}
        </nav>
        <span className="head" data-testid="block">
          chain {config.network.chainId} · block {chain.block === undefined ? "…" : String(chain.block)}
        </span>
      </header>
      {chain.error && (
        <p className="error" data-testid="chain-error">
          {chain.error}
        </p>
      )}
      <main>
        {/* Each page's crash stays on that page (a hostile RPC's odd answer must not blank them all). */}
        {route.page === "network" && (
          <PageBoundary name="network" resetKey={chain.block}>
            <NetworkPage chain={chain} />
          </PageBoundary>
        )}
        {route.page === "stack" && (
          <PageBoundary name="stack" resetKey={chain.block}>
            <StackPage chain={chain} stackId={route.stackId} />
          </PageBoundary>
        )}
        {/* Kept while another page shows: its turns stay, and their verdicts are read again as the stacks settle. */}
        <div hidden={route.page !== "playground"} data-testid="playground-page">
          <PageBoundary name="playground" resetKey={chain.block}>
            <Playground config={config} events={chain.events} genesisHash={chain.genesisHash} />
          </PageBoundary>
        </div>
        {route.page === "models" && (
          <PageBoundary name="models" resetKey={chain.block}>
            <ModelsPage chain={chain} />
          </PageBoundary>
        )}
        {route.page === "economics" && (
          <PageBoundary name="economics" resetKey={chain.block}>
            <EconomicsPage chain={chain} />
          </PageBoundary>
        )}
      </main>
    </>
  );
}
