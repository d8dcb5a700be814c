import { type Verdict, verdictLine } from "@atoma/sdk";

const MARKS = { pass: "pass", fail: "FAIL", pending: "wait", not_checked: "not checked" } as const;

/**
 * One line per check (`pass signature  the receipt is signed by …`), then the verdict's line. Without the request
 * the answer is bound to no question, so the verdict says "verified (request not checked)", never plainly "verified".
 */
export function verdictText(verdict: Verdict): string {
  const width = Math.max(...verdict.checks.map((check) => check.name.length));
  const lines = verdict.checks.map(
    (check) =>
      `${MARKS[check.status]} ${check.name.padEnd(width)}  ${check.reason}${check.code ? ` (${check.code})` : ""}`,
  );
  const requestUnchecked = verdict.checks.some(
    (c) => c.name === "request_hash" && c.status === "not_checked",
  );
  const line = verdictLine(verdict);
  const summary =
    verdict.ok && requestUnchecked ? line.replace(/^verified/, "verified (request not checked)") : line;
  return `${[...lines, `verdict ${summary}`].join("\n")}\n`;
}
