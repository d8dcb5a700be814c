import { expect } from "vitest";

/** Checks that `svg` is one well-formed <svg> element: every tag closed in order, attributes quoted, no stray `<`/`&`. */
export function expectWellFormedSvg(svg: string): void {
  expect(svg.trimStart().startsWith("<svg ")).toBe(true);
  expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
  const open: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (const match of svg.matchAll(tag)) {
    const between = svg.slice(last, match.index);
    expect(between).not.toMatch(/[<>]|&(?!amp;|lt;|gt;|quot;)/);
    last = match.index + match[0].length;
    const [, closing, name, , selfClosing] = match;
    if (selfClosing) continue;
    if (closing) expect(open.pop()).toBe(name);
    else open.push(name!);
  }
  expect(svg.slice(last).trim()).toBe("");
  expect(open).toEqual([]);
}
