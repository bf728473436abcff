// Loss curves as SVG text (no dependencies): metrics JSONL → series per metric and step type → one line chart
// with axes, ticks, legend and an optional log y axis. Deterministic: same input, same bytes.

/** One curve: points [x (step), y (value)]. */
export interface Series {
  name: string;
  points: [number, number][];
}

export interface LossCurveOptions {
  /** Image width in px. Default 720. */
  width?: number;
  /** Image height in px. Default 420. */
  height?: number;
  /** Title above the plot. Default none. */
  title?: string;
  /** Logarithmic y axis (non-positive values are dropped). Default false. */
  logY?: boolean;
  /** x axis label. Default 'step'. */
  xLabel?: string;
  /** y axis label. Default 'loss'. */
  yLabel?: string;
}

/** Tableau 10: distinct colours for up to 10 series (then repeated). */
const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];
const M = { left: 64, top: 36, bottom: 48 }; // margins; the right one holds the legend and fits its names

/**
 * Renders `series` as an SVG line chart. Points with a non-finite coordinate (or y ≤ 0 with `logY`) are dropped;
 * series are drawn in the given order, each in its own colour, and listed in the legend.
 */
export function lossCurveSvg(series: readonly Series[], options: LossCurveOptions = {}): string {
  const { width = 720, height = 420, title, logY = false, xLabel = 'step', yLabel = 'loss' } = options;
  const ty = (y: number) => (logY ? Math.log10(y) : y);
  const clean = series.map((s) => ({
    name: s.name,
    points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0)),
  }));
  const all = clean.flatMap((s) => s.points);
  // the legend column: ~7 px per character at 12 px, at most 45% of the width
  const right = Math.min(40 + 7 * Math.max(0, ...clean.map((s) => s.name.length)), Math.round(width * 0.45));
  const pw = width - M.left - right;
  const ph = height - M.top - M.bottom;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="white"/>`,
  ];
  if (title)
    out.push(`<text x="${fmt(width / 2)}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>`);

  if (all.length === 0) {
    out.push(
      `<text x="${fmt(width / 2)}" y="${fmt(height / 2)}" text-anchor="middle">no data</text>`,
      '</svg>',
    );
    return `${out.join('\n')}\n`;
  }
  const [x0, x1] = padRange(Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0])));
  const [y0, y1] = padRange(Math.min(...all.map((p) => ty(p[1]))), Math.max(...all.map((p) => ty(p[1]))));
  const sx = (x: number) => M.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => M.top + ph - ((ty(y) - y0) / (y1 - y0)) * ph;

  // axes and ticks
  const xTicks = niceTicks(x0, x1);
  const yTicks = logY ? logTicks(y0, y1) : niceTicks(y0, y1);
  out.push(`<g stroke="#ccc" stroke-width="1">`);
  for (const t of xTicks)
    out.push(`<line x1="${fmt(sx(t))}" y1="${M.top}" x2="${fmt(sx(t))}" y2="${M.top + ph}"/>`);
  for (const t of yTicks)
    out.push(`<line x1="${M.left}" y1="${fmt(sy(t))}" x2="${M.left + pw}" y2="${fmt(sy(t))}"/>`);
  out.push('</g>');
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="black"/>`);
  for (const t of xTicks)
    out.push(`<text x="${fmt(sx(t))}" y="${M.top + ph + 16}" text-anchor="middle">${label(t)}</text>`);
  for (const t of yTicks)
    out.push(`<text x="${M.left - 6}" y="${fmt(sy(t) + 4)}" text-anchor="end">${label(t)}</text>`);
  out.push(`<text x="${fmt(M.left + pw / 2)}" y="${height - 10}" text-anchor="middle">${esc(xLabel)}</text>`);
  const yl = `${esc(yLabel)}${logY ? ' (log)' : ''}`;
  out.push(
    `<text x="14" y="${fmt(M.top + ph / 2)}" text-anchor="middle" transform="rotate(-90 14 ${fmt(M.top + ph / 2)})">${yl}</text>`,
  );

  // curves and legend
  clean.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const pts = [...s.points].sort((a, b) => a[0] - b[0]);
    if (pts.length > 1) {
      const d = pts.map(([x, y]) => `${fmt(sx(x))},${fmt(sy(y))}`).join(' ');
      out.push(
        `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${d}"><title>${esc(s.name)}</title></polyline>`,
      );
    } else if (pts.length === 1) {
      out.push(
        `<circle cx="${fmt(sx(pts[0][0]))}" cy="${fmt(sy(pts[0][1]))}" r="3" fill="${color}"><title>${esc(s.name)}</title></circle>`,
      );
    }
    const ly = M.top + 8 + i * 18;
    const lx = M.left + pw + 12;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 20}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${lx + 26}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------- metrics files

/**
 * Turns metric records into series: for every record with a numeric `x` field (default `step`), each numeric
 * field whose dotted path matches `include` (default: contains "loss") becomes a point of the series named
 * `<record.split ?? record.type> <path>`, e.g. `train loss`, `eval lossByStep.analysis`.
 */
export function seriesFromMetrics(
  records: readonly Record<string, unknown>[],
  { x = 'step', include = /loss/i }: { x?: string; include?: RegExp } = {},
): Series[] {
  const byName = new Map<string, [number, number][]>();
  for (const r of records) {
    const xv = r[x];
    if (typeof xv !== 'number') continue;
    const prefix = typeof r.split === 'string' ? r.split : typeof r.type === 'string' ? r.type : '';
    for (const [path, v] of numericLeaves(r)) {
      if (path === x || !include.test(path)) continue;
      const name = prefix ? `${prefix} ${path}` : path;
      if (!byName.has(name)) byName.set(name, []);
      byName.get(name)!.push([xv, v]);
    }
  }
  return [...byName].map(([name, points]) => ({ name, points }));
}

/** [dotted path, value] of every number in a nested object. */
function numericLeaves(o: Record<string, unknown>, prefix = ''): [string, number][] {
  const out: [string, number][] = [];
  for (const [k, v] of Object.entries(o)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'number') out.push([path, v]);
    else if (v !== null && typeof v === 'object' && !Array.isArray(v))
      out.push(...numericLeaves(v as Record<string, unknown>, path));
  }
  return out;
}

// ---------------------------------------------------------------- scales

/** Widens a degenerate range, and pads a real one by 3% on each side. */
function padRange(lo: number, hi: number): [number, number] {
  if (hi === lo) return [lo - (Math.abs(lo) || 1) * 0.5, hi + (Math.abs(hi) || 1) * 0.5];
  const pad = (hi - lo) * 0.03;
  return [lo - pad, hi + pad];
}

/** About five ticks at multiples of 1, 2 or 5 × 10^k inside [lo, hi]. */
function niceTicks(lo: number, hi: number): number[] {
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/** Ticks of a log10 axis spanning [lo, hi] (in log10 units): decades, plus 2× and 5× when under two decades. */
function logTicks(lo: number, hi: number): number[] {
  const mults = hi - lo < 2 ? [1, 2, 5] : [1];
  const ticks: number[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++)
    for (const m of mults) {
      const t = Number((m * 10 ** e).toPrecision(12));
      if (Math.log10(t) >= lo && Math.log10(t) <= hi) ticks.push(t);
    }
  return ticks;
}

/** Tick label: up to 4 significant digits, exponent form for very small or large magnitudes. */
function label(t: number): string {
  if (t === 0) return '0';
  const a = Math.abs(t);
  return a >= 1e5 || a < 1e-3 ? t.toExponential(1) : String(Number(t.toPrecision(4)));
}

/** Coordinates with two decimals. */
function fmt(v: number): string {
  return String(Math.round(v * 100) / 100);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
