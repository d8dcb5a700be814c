import { type Verdict, verdictLine } from "@atoma/sdk";

const MARKS = { pass: "pass", fail: "FAIL", pending: "wait", not_checked: "skip" } as const;

/** One line per check (`pass signature  the receipt is signed by …`), then the verdict's line. */
export function verdictText(verdict: Verdict): string {
  const width = Math.max(...verdict.checks.map((check) => check.name.length));
  const lines = verdict.checks.map(
    (check) =>
      `${MARKS[check.status]} ${check.name.padEnd(width)}  ${check.reason}${check.code ? ` (${check.code})` : ""}`,
  );
  return `${[...lines, `verdict ${verdictLine(verdict)}`].join("\n")}\n`;
}
