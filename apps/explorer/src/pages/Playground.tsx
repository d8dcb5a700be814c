import {
  type AtomaClient,
  createAtomaClient,
  gatewayBuyer,
  type Verdict,
  verdictLine,
  verifyChainOf,
} from "@atoma/sdk";
import { memo, useEffect, useMemo, useRef, useState } from "react";
import type { Hex } from "viem";
import type { ChainEvent } from "../chain/chainEvent.js";
import { blockHashOf } from "../chain/genesisHash.js";
import type { ExplorerConfig } from "../config.js";
import { AnswerFiles } from "../playground/AnswerFiles.js";
import { checkFunded, devAccount } from "../playground/devAccount.js";
import { isFinal, nextVerdict } from "../playground/nextVerdict.js";
import { pageStore } from "../playground/pageStore.js";
import { type AnswerChain, answerFileNames, verifyCommand } from "../playground/verifyCommand.js";

interface Turn {
  question: string;
  answer: string;
  /** The client's own checks, run again (`AtomaAnswer.recheck`): once the stack settles, inclusion is read. */
  recheck?: (() => Promise<Verdict>) | undefined;
  verdict?: Verdict | undefined;
  /** The answer as the client received and verified it (its `atoma` receipt included): what `atoma verify` takes. */
  response?: Record<string, unknown> | undefined;
  /** The request as the node signed it, for `atoma verify --request`. */
  request?: Record<string, unknown> | undefined;
  error?: string | undefined;
  /** The answer is streaming: its text is not verified yet (and is dropped if it fails its checks). */
  streaming?: boolean | undefined;
}

/** A failed turn keeps none of the text streamed: it was never verified, so it is not shown as the node's. */
const failed = (error: unknown): Partial<Turn> => ({
  answer: "",
  streaming: false,
  error: `${error instanceof Error ? error.message : String(error)} (the text streamed was not verified and is dropped)`,
});

const MAX_TOKENS = 48;

/** The text shown while a stream comes: its chunks added up, dropped when the client restarts the answer. */
function streamedText(show: (text: string) => void) {
  let text = "";
  return {
    onChunk: (chunk: Record<string, unknown>) => {
      const delta = (chunk.choices as { delta?: { content?: string } }[] | undefined)?.[0]?.delta?.content;
      if (delta) {
        text += delta;
        show(text);
      }
    },
    onRestart: () => {
      text = "";
      show(text);
    },
  };
}

/** The text of the answer the client verified (its receipt covers it). */
function verifiedText(response: Record<string, unknown>): string {
  const choices = response.choices as { message?: { content?: unknown } }[] | undefined;
  const content = choices?.[0]?.message?.content;
  return typeof content === "string" ? content : "";
}
/**
 * What a turn keeps once its answer came: the verified answer (and the next turn's context), not the chunks as they
 * came, with the verdict the client already reached (the settlement effect above reads it again later).
 */
function answeredTurn(question: string, result: Awaited<ReturnType<AtomaClient["chatStream"]>>): Turn {
  return {
    question,
    answer: verifiedText(result.response),
    recheck: result.recheck,
    response: result.response,
    request: result.request,
    streaming: false,
    verdict: result.verdict,
  };
}
/** The contracts whose events can change a verified answer's verdict. */
const RECHECKED_ON = new Set(["SettlementManager", "ChallengeManager", "NodeRegistry"]);
/** Through the gateway with an API key (it holds the stacks), or non-custodially with a key pasted here. */
type Mode = "gateway" | "direct";
const browserFetch: typeof fetch = (input, init) => fetch(input, init);
/** The task logs a direct client reads, kept across questions and reloads. */
const taskLogStore = pageStore();
/**
 * What the direct clients keep of each stack (MED-1 of issue 13's last review): its receipts, a leaf adopted from
 * another client of the owner among them, the requests pending and every request hash signed. Each question's
 * client starts from it, and audits the adopted leaves of a settled stack with no one asking.
 */
const stateStore = pageStore();

/**
 * Takes only the events and the genesis hash, not the whole snapshot: a block that brings neither (most of them)
 * renders nothing here, though the page stays mounted on every route.
 */
export const Playground = memo(function Playground({
  config,
  events,
  genesisHash,
}: {
  config: ExplorerConfig;
  events: readonly ChainEvent[];
  genesisHash: Hex | undefined;
}) {
  const [proxyUrl, setProxyUrl] = useState(config.proxyUrl ?? "");
  const [apiKey, setApiKey] = useState(config.apiKey ?? "");
  const [model, setModel] = useState(config.network.model ?? "");
  const [question, setQuestion] = useState("Hello");
  const [turns, setTurns] = useState<Turn[]>([]);
  const [busy, setBusy] = useState(false);
  const [mode, setMode] = useState<Mode>("gateway");
  const [devKey, setDevKey] = useState("");
  const [formError, setFormError] = useState<string | undefined>();
  const verifyChain = useMemo(() => verifyChainOf(config.network), [config.network]);
  /** One gateway client per gateway and key: its replay check spans the turns. */
  const gateway = useRef<{ key: string; client: AtomaClient } | undefined>(undefined);
  const update = (index: number, patch: Partial<Turn>) =>
    setTurns((all) => all.map((turn, i) => (i === index ? { ...turn, ...patch } : turn)));

  /**
   * Turns with a re-check in flight, and those asked again meanwhile: at most one check per turn runs (each event
   * would otherwise start one more), and one more runs when it ends, so no event's news is missed.
   */
  const inFlight = useRef(new Set<number>());
  const askedAgain = useRef(new Map<number, Turn>());
  async function verify(index: number, turn: Turn) {
    if (!turn.recheck) return;
    if (inFlight.current.has(index)) {
      askedAgain.current.set(index, turn);
      return;
    }
    inFlight.current.add(index);
    try {
      await recheckOnce(index, turn);
    } finally {
      inFlight.current.delete(index);
    }
    const again = askedAgain.current.get(index);
    askedAgain.current.delete(index);
    if (again !== undefined) void verify(index, again);
  }
  async function recheckOnce(index: number, turn: Turn) {
    if (!turn.recheck) return;
    let verdict: Verdict;
    try {
      verdict = await turn.recheck();
    } catch {
      return; // the chain could not be read this time: the next event asks again
    }
    // Weighed against the verdict shown now, not the one the check was asked with (it may have moved on since). The
    // proof shown is the one the verdict checked (`verdict.proof`), never one fetched again.
    setTurns((all) =>
      all.map((shown, i) =>
        i === index ? { ...shown, verdict: nextVerdict(shown.verdict, verdict) } : shown,
      ),
    );
  }

  // A verified answer's verdict is read again whenever a block brings a settlement, challenge or slash, until its
  // settlement is final: an attested answer goes on to finalized, and a slash un-verifies it.
  const settlementEvents = useMemo(() => events.filter((e) => RECHECKED_ON.has(e.contract)).length, [events]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: re-verifies on new settlement events only
  useEffect(() => {
    turns.forEach((turn, index) => {
      if (turn.verdict?.ok && !isFinal(turn.verdict)) void verify(index, turn);
    });
  }, [settlementEvents]);

  async function send(event: React.FormEvent) {
    event.preventDefault();
    const index = turns.length;
    // Only verified answers are context: an answer that failed its checks (or never finished) is not the node's,
    // and must not steer the next one.
    const history = turns
      .filter((t) => t.verdict?.ok === true)
      .flatMap((t) => [
        { role: "user", content: t.question },
        { role: "assistant", content: t.answer },
      ]);
    const request = {
      model,
      messages: [...history, { role: "user", content: question }],
      max_tokens: MAX_TOKENS,
      stream: true,
    };
    setFormError(undefined);
    setBusy(true);
    if (mode === "direct") {
      await sendDirect(index, request);
      return;
    }
    setTurns((all) => [...all, { question, answer: "" }]);
    try {
      const base = proxyUrl.replace(/\/$/, "");
      // The answer must come from a stack of the gateway's own wallet (another owner's answer is a replay): the one
      // the configuration names for its own gateway, else what the gateway edited in says of itself.
      const gatewayAddress =
        config.gatewayAddress !== undefined && proxyUrl === config.proxyUrl
          ? config.gatewayAddress
          : await gatewayBuyer(browserFetch, base);
      // The lowest security level is the client's default (the highest a node serves the model at), read again
      // each minute; when it cannot be read the turn fails rather than take any level.
      const key = JSON.stringify([base, apiKey, gatewayAddress]);
      if (gateway.current?.key !== key)
        gateway.current = {
          key,
          client: createAtomaClient({
            gateway: { url: base, apiKey },
            chain: verifyChain,
            gatewayAddress,
            fetch: browserFetch,
          }),
        };
      const { stream: _stream, ...body } = request;
      const shown = streamedText((answer) => update(index, { answer, streaming: true }));
      const result = await gateway.current.client.chatStream(body, shown.onChunk, shown.onRestart);
      update(index, answeredTurn(question, result));
    } catch (error) {
      update(index, failed(error));
    } finally {
      setBusy(false);
    }
  }

  // Non-custodial: the key is checked (shape, funds) before a turn exists, so a bad one sends nothing.
  async function sendDirect(index: number, body: Record<string, unknown>) {
    let client: ReturnType<typeof createAtomaClient>;
    try {
      const account = devAccount(devKey);
      await checkFunded(config.network, account);
      client = createAtomaClient({
        network: config.network,
        account,
        fetch: browserFetch,
        taskLogStore,
        stateStore,
      });
    } catch (error) {
      setFormError(error instanceof Error ? error.message : String(error));
      setBusy(false);
      return;
    }
    const { stream: _stream, ...request } = body;
    setTurns((all) => [...all, { question, answer: "" }]);
    try {
      const shown = streamedText((answer) => update(index, { answer, streaming: true }));
      const result = await client.chatStream(request, shown.onChunk, shown.onRestart);
      update(index, answeredTurn(question, result));
    } catch (error) {
      update(index, failed(error));
    } finally {
      setBusy(false);
    }
  }

  // The files' names tell this chain from any other (its genesis read apart from the spans): none offered until a
  // real hash came, so a hostile RPC's `null` or short hash names no file and breaks no page.
  const chainId = config.network.chainId;
  const answerChain = useMemo(() => {
    const hash = blockHashOf(genesisHash);
    return hash === undefined ? undefined : { chainId, genesisHash: hash };
  }, [chainId, genesisHash]);
  return (
    <section>
      <h2>Playground</h2>
      <form className="playground" onSubmit={send}>
        <fieldset className="mode">
          <label>
            <input
              type="radio"
              name="mode"
              value="gateway"
              checked={mode === "gateway"}
              onChange={() => setMode("gateway")}
            />{" "}
            through the gateway (key)
          </label>
          <label>
            <input
              type="radio"
              name="mode"
              value="direct"
              checked={mode === "direct"}
              onChange={() => setMode("direct")}
            />{" "}
            directly, with a dev account
          </label>
        </fieldset>
        {mode === "gateway" ? (
          <>
            <label>
              Gateway <input name="proxyUrl" value={proxyUrl} onChange={(e) => setProxyUrl(e.target.value)} />
            </label>
            <label>
              API key{" "}
              <input
                name="apiKey"
                value={apiKey}
                onChange={(e) => setApiKey(e.target.value)}
                type="password"
              />
            </label>
          </>
        ) : (
          <>
            <p className="hint">
              A local dev account: paste its private key (for example <code>atoma dev</code>'s demo user). It
              stays in this page, buys a stack from a node the chain offers and signs each request; never
              paste a key that holds real funds.
            </p>
            <label>
              Private key{" "}
              <input
                name="devKey"
                value={devKey}
                onChange={(e) => setDevKey(e.target.value)}
                type="password"
                autoComplete="off"
              />
            </label>
          </>
        )}
        <label>
          Model <input name="model" value={model} onChange={(e) => setModel(e.target.value)} />
        </label>
        <label>
          Message <textarea name="question" value={question} onChange={(e) => setQuestion(e.target.value)} />
        </label>
        <button type="submit" disabled={busy || (mode === "gateway" ? !proxyUrl || !apiKey : !devKey)}>
          Send
        </button>
        {formError && (
          <p className="error" data-testid="playground-error">
            {formError}
          </p>
        )}
      </form>
      <ol className="turns">
        {turns.map((turn, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: turns are only appended
          <TurnView key={i} turn={turn} config={config} answerChain={answerChain} />
        ))}
      </ol>
    </section>
  );
});

/** One turn, rendered again only when it (or the chain its files are named after) changes. */
const TurnView = memo(function TurnView({
  turn,
  config,
  answerChain,
}: {
  turn: Turn;
  config: ExplorerConfig;
  answerChain: AnswerChain | undefined;
}) {
  const files = useMemo(
    () =>
      turn.verdict?.receipt && answerChain ? answerFileNames(turn.verdict.receipt, answerChain) : undefined,
    [turn.verdict, answerChain],
  );
  return (
    <li data-testid="turn">
      <p className="question">{turn.question}</p>
      <p className={turn.streaming ? "answer unverified" : "answer"} data-testid="answer">
        {turn.answer}
      </p>
      {turn.streaming && (
        <p className="hint" data-testid="answer-unverified">
          unverified until the answer is complete and checked
        </p>
      )}
      {turn.error && (
        <p className="error" data-testid="turn-error">
          {turn.error}
        </p>
      )}
      {turn.verdict && <VerdictView verdict={turn.verdict} />}
      {turn.verdict?.ok && turn.response && turn.request && files && (
        <AnswerFiles
          response={turn.response}
          request={turn.request}
          files={files}
          command={verifyCommand(
            config.network,
            config.networkFile,
            files,
            turn.verdict.asked,
            config.cliPath,
          )}
        />
      )}
    </li>
  );
});

function VerdictView({ verdict }: { verdict: Verdict }) {
  const stackId = verdict.receipt?.stack_id;
  return (
    <div className={`verdict ${verdict.ok ? "ok" : "bad"}`} data-testid="verdict">
      <strong data-testid="verdict-line">{verdictLine(verdict)}</strong>
      {stackId !== undefined && (
        <>
          {" "}
          <a href={`#/stack/${stackId}`}>stack #{String(stackId)}</a>
        </>
      )}
      <ul>
        {verdict.checks.map((check) => (
          <li key={check.name} className={check.status} data-testid={`check-${check.name}`}>
            {check.name}: {check.status} — {check.reason}
          </li>
        ))}
      </ul>
      {verdict.proof !== undefined && (
        <details data-testid="inclusion-proof">
          <summary>Inclusion proof (as checked against the root on-chain)</summary>
          <pre>{JSON.stringify(verdict.proof, null, 2)}</pre>
        </details>
      )}
    </div>
  );
}
