import { useMemo, useState } from "react";
import { type AnswerFileNames, jsonDataUrl, jsonFile } from "./verifyCommand.js";

/**
 * A verified answer as `atoma verify` takes it: the response as the client received it (its `atoma` receipt
 * included) and the request as the node signed it, each to download or copy, beside the command that checks them.
 */
export function AnswerFiles({
  response,
  request,
  command,
  files,
}: {
  response: Record<string, unknown>;
  request: Record<string, unknown>;
  command: string;
  files: AnswerFileNames;
}) {
  const { answer: ANSWER_FILE, request: REQUEST_FILE } = files;
  // Built once per answer: a data URL holds the whole file, too much to encode again at each render.
  const answerUrl = useMemo(() => jsonDataUrl(response), [response]);
  const requestUrl = useMemo(() => jsonDataUrl(request), [request]);
  const [copied, setCopied] = useState<string | undefined>();
  const copy = (name: string, body: unknown) =>
    navigator.clipboard.writeText(jsonFile(body)).then(
      () => setCopied(`${name} copied`),
      () => setCopied("the browser refused the clipboard: download it instead"),
    );
  return (
    <div className="answer-files" data-testid="answer-files">
      <p>
        Check it yourself: save{" "}
        <a href={answerUrl} download={ANSWER_FILE} data-testid="download-answer">
          {ANSWER_FILE}
        </a>{" "}
        and{" "}
        <a href={requestUrl} download={REQUEST_FILE} data-testid="download-request">
          {REQUEST_FILE}
        </a>{" "}
        (or{" "}
        <button type="button" className="link" onClick={() => void copy(ANSWER_FILE, response)}>
          copy the answer
        </button>
        ,{" "}
        <button type="button" className="link" onClick={() => void copy(REQUEST_FILE, request)}>
          the request
        </button>
        ), then run this in the folder they were saved to (your browser's downloads folder, often
        ~/Downloads):
      </p>
      <pre data-testid="verify-command">{command}</pre>
      {copied && <p className="hint">{copied}</p>}
    </div>
  );
}
