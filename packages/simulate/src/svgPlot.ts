/** A small dependency-free SVG line chart: series of points, vertical markers, axes with ticks, a legend. */
export interface PlotSeries {
  label: string;
  colour: string;
  /** Drawn dashed and without markers (a reference curve rather than measurements). */
  dashed?: boolean | undefined;
  points: { x: number; y: number; low?: number | undefined; high?: number | undefined }[];
}

export interface PlotMarker {
  label: string;
  x: number;
  colour: string;
}

export interface PlotSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: PlotSeries[];
  markers: PlotMarker[];
}

const WIDTH = 760;
const HEIGHT = 460;
const MARGIN = { left: 80, right: 30, top: 50, bottom: 60 };

export function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const fmt = (value: number) => (value === 0 ? "0" : Number(value.toPrecision(3)).toString());

/** Evenly spaced tick values covering [min, max]. */
function ticks(min: number, max: number, count = 5): number[] {
  return Array.from({ length: count + 1 }, (_, i) => min + ((max - min) * i) / count);
}

export function renderPlot(spec: PlotSpec): string {
  const xs = [...spec.series.flatMap((s) => s.points.map((p) => p.x)), ...spec.markers.map((m) => m.x)];
  const ys = spec.series.flatMap((s) => s.points.flatMap((p) => [p.y, p.low ?? p.y, p.high ?? p.y]));
  const xMin = 0;
  const xMax = Math.max(...xs, 1e-9);
  let yMin = Math.min(...ys, 0);
  let yMax = Math.max(...ys, 0);
  const pad = (yMax - yMin) * 0.08 || 1;
  yMin -= pad;
  yMax += pad;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number) => MARGIN.left + ((x - xMin) / (xMax - xMin)) * plotW;
  const sy = (y: number) => MARGIN.top + plotH - ((y - yMin) / (yMax - yMin)) * plotH;
  const n = (v: number) => v.toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="15">${escapeXml(spec.title)}</text>`,
  ];
  for (const t of ticks(xMin, xMax)) {
    out.push(
      `<line x1="${n(sx(t))}" y1="${MARGIN.top}" x2="${n(sx(t))}" y2="${MARGIN.top + plotH}" stroke="#eee"/>`,
      `<text x="${n(sx(t))}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${fmt(t)}</text>`,
    );
  }
  for (const t of ticks(yMin, yMax)) {
    out.push(
      `<line x1="${MARGIN.left}" y1="${n(sy(t))}" x2="${MARGIN.left + plotW}" y2="${n(sy(t))}" stroke="#eee"/>`,
      `<text x="${MARGIN.left - 8}" y="${n(sy(t) + 4)}" text-anchor="end">${fmt(t)}</text>`,
    );
  }
  if (yMin < 0 && yMax > 0)
    out.push(
      `<line x1="${MARGIN.left}" y1="${n(sy(0))}" x2="${MARGIN.left + plotW}" y2="${n(sy(0))}" stroke="#999"/>`,
    );
  out.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 16}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`,
    `<text transform="translate(18 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`,
  );
  spec.markers.forEach((m, i) => {
    const x = n(sx(m.x));
    out.push(
      `<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plotH}" stroke="${m.colour}" stroke-dasharray="6 4"/>`,
      `<text x="${n(sx(m.x) + 4)}" y="${MARGIN.top + 14 + 14 * i}" fill="${m.colour}">${escapeXml(m.label)}</text>`,
    );
  });
  spec.series.forEach((s, i) => {
    const path = s.points.map((p) => `${n(sx(p.x))},${n(sy(p.y))}`).join(" ");
    const dash = s.dashed ? ' stroke-dasharray="4 3"' : "";
    out.push(`<polyline points="${path}" fill="none" stroke="${s.colour}" stroke-width="2"${dash}/>`);
    for (const p of s.dashed ? [] : s.points) {
      if (p.low !== undefined && p.high !== undefined)
        out.push(
          `<line x1="${n(sx(p.x))}" y1="${n(sy(p.low))}" x2="${n(sx(p.x))}" y2="${n(sy(p.high))}" stroke="${s.colour}"/>`,
        );
      out.push(`<circle cx="${n(sx(p.x))}" cy="${n(sy(p.y))}" r="3.5" fill="${s.colour}"/>`);
    }
    // Top right, under the markers' labels: profit curves fall with p, so that corner stays clear.
    const ly = MARGIN.top + 14 * spec.markers.length + 22 + 18 * i;
    const lx = MARGIN.left + plotW - 270;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${s.colour}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 30}" y="${ly + 4}">${escapeXml(s.label)}</text>`,
    );
  });
  out.push("</svg>", "");
  return out.join("\n");
}
