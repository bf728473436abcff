// Inline SVG plots for the HTML report, as plain strings (no dependencies): safety against length (one point
// per run, with Wilson intervals as error bars) and the stage usage of each run as stacked bars.

import { STAGE_PATTERN_LABELS, STAGE_PATTERNS } from './format.js';
import type { RunMetrics } from './metrics.js';

/** Colours of runs (Okabe–Ito, distinguishable with colour-blindness), cycled. */
export const RUN_COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'];

/** Colours of the stage patterns, in STAGE_PATTERNS order. */
const PATTERN_COLOURS = ['#c6dbef', '#6baed6', '#fdae6b', '#08519c', '#bdbdbd'];

/** The plot frame: size and margins in px. */
const W = 720;
const H = 360;
const M = { left: 56, right: 240, top: 24, bottom: 48 };

/**
 * Scatter of mean generated tokens per output (x) against the refusal rate on harmful prompts (filled
 * circles) and the compliance rate on benign prompts (hollow squares), one colour per run, with the Wilson
 * intervals as vertical bars. Runs without the figure are left out.
 */
export function safetyVsTokensSvg(runs: readonly RunMetrics[]): string {
  const xs = runs.map((r) => r.tokens.all.total.mean ?? 0);
  const xMax = niceCeil(Math.max(1, ...xs) * 1.1);
  const px = (x: number) => M.left + (x / xMax) * (W - M.left - M.right);
  const py = (y: number) => H - M.bottom - y * (H - M.top - M.bottom);
  const parts: string[] = [axes(xMax, px, py, 'mean generated tokens per output', 'rate')];
  runs.forEach((r, i) => {
    const c = RUN_COLOURS[i % RUN_COLOURS.length];
    const x = r.tokens.all.total.mean;
    if (x === null) return;
    for (const [rate, shape, dx] of [
      [r.refusalOnHarmful, 'circle', -3],
      [r.complianceOnBenign, 'square', 3],
    ] as const) {
      if (rate.rate === null || rate.ci === null) continue;
      const [cx, cy] = [px(x) + dx, py(rate.rate)];
      parts.push(
        `<line x1="${f(cx)}" y1="${f(py(rate.ci[0]))}" x2="${f(cx)}" y2="${f(py(rate.ci[1]))}" stroke="${c}" stroke-width="1.5"/>`,
      );
      parts.push(
        shape === 'circle'
          ? `<circle cx="${f(cx)}" cy="${f(cy)}" r="5" fill="${c}"><title>${esc(label(r))}: refusal on harmful ${pct(rate.rate)}</title></circle>`
          : `<rect x="${f(cx - 4.5)}" y="${f(cy - 4.5)}" width="9" height="9" fill="white" stroke="${c}" stroke-width="2"><title>${esc(label(r))}: compliance on benign ${pct(rate.rate)}</title></rect>`,
      );
    }
  });
  const lx = W - M.right + 16;
  parts.push(
    `<circle cx="${lx + 5}" cy="${M.top + 4}" r="5" fill="#555"/><text x="${lx + 16}" y="${M.top + 8}">refusal on harmful</text>`,
  );
  parts.push(
    `<rect x="${lx}" y="${M.top + 18}" width="9" height="9" fill="white" stroke="#555" stroke-width="2"/><text x="${lx + 16}" y="${M.top + 27}">compliance on benign</text>`,
  );
  parts.push(
    legend(
      runs.map((r, i) => [label(r), RUN_COLOURS[i % RUN_COLOURS.length]]),
      lx,
      M.top + 52,
    ),
  );
  return svg('Safety against length', parts);
}

/** Stacked horizontal bars: the share of each stage pattern among a run's outputs (all prompts). */
export function stageUsageSvg(runs: readonly RunMetrics[]): string {
  const barH = 22;
  const gap = 12;
  const left = 200;
  const width = W - left - M.right + 20;
  const height = M.top + runs.length * (barH + gap) + 40;
  const parts: string[] = [];
  runs.forEach((r, i) => {
    const y = M.top + i * (barH + gap);
    parts.push(
      `<text x="${left - 8}" y="${y + barH / 2 + 4}" text-anchor="end">${esc(shorten(label(r), 28))}</text>`,
    );
    const n = r.count.all;
    let x = left;
    STAGE_PATTERNS.forEach((p, k) => {
      const share = n === 0 ? 0 : r.stageUsage.all[p] / n;
      if (share === 0) return;
      const w = share * width;
      parts.push(
        `<rect x="${f(x)}" y="${y}" width="${f(w)}" height="${barH}" fill="${PATTERN_COLOURS[k]}"><title>${esc(label(r))}: ${STAGE_PATTERN_LABELS[p]} ${pct(share)} (${r.stageUsage.all[p]}/${n})</title></rect>`,
      );
      x += w;
    });
  });
  const axisY = M.top + runs.length * (barH + gap);
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const x = left + t * width;
    parts.push(`<text x="${f(x)}" y="${axisY + 12}" text-anchor="middle">${pct(t, 0)}</text>`);
  }
  const patterns = STAGE_PATTERNS.map(
    (p, k) => [STAGE_PATTERN_LABELS[p], PATTERN_COLOURS[k]] as [string, string],
  );
  parts.push(legend(patterns, left + width + 16, M.top + 4));
  return svg('Stage usage', parts, Math.max(height, M.top + patterns.length * 18 + 24));
}

// ---------------------------------------------------------------------------------------------------
// helpers

/** "name (mode)". */
function label(r: RunMetrics): string {
  return `${r.name} (${r.mode})`;
}

function svg(title: string, parts: string[], height = H): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" role="img" aria-label="${esc(title)}" font-family="sans-serif" font-size="12"><title>${esc(title)}</title>${parts.join('')}</svg>`;
}

function axes(
  xMax: number,
  px: (x: number) => number,
  py: (y: number) => number,
  xTitle: string,
  yTitle: string,
): string {
  const out = [
    `<line x1="${M.left}" y1="${py(0)}" x2="${W - M.right}" y2="${py(0)}" stroke="#333"/>`,
    `<line x1="${M.left}" y1="${py(0)}" x2="${M.left}" y2="${py(1)}" stroke="#333"/>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const y = k / 4;
    out.push(`<line x1="${M.left}" y1="${f(py(y))}" x2="${W - M.right}" y2="${f(py(y))}" stroke="#eee"/>`);
    out.push(`<text x="${M.left - 6}" y="${f(py(y) + 4)}" text-anchor="end">${pct(y, 0)}</text>`);
    const x = (xMax * k) / 4;
    out.push(`<text x="${f(px(x))}" y="${py(0) + 16}" text-anchor="middle">${+x.toFixed(1)}</text>`);
  }
  out.push(
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle">${esc(xTitle)}</text>`,
  );
  out.push(
    `<text x="14" y="${(M.top + H - M.bottom) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(M.top + H - M.bottom) / 2})">${esc(yTitle)}</text>`,
  );
  return out.join('');
}

function legend(entries: readonly [string, string][], x: number, y: number): string {
  return entries
    .map(
      ([text, colour], i) =>
        `<rect x="${x}" y="${y + i * 18}" width="10" height="10" fill="${colour}"/><text x="${x + 16}" y="${y + i * 18 + 9}">${esc(shorten(text, 30))}</text>`,
    )
    .join('');
}

/** The smallest 1, 2 or 5 × 10^k at or above v. */
function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  return ([1, 2, 5, 10].find((m) => m * p >= v) ?? 10) * p;
}

function shorten(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

const f = (v: number) => (Math.round(v * 10) / 10).toString();
const pct = (v: number, digits = 1) => `${(v * 100).toFixed(digits)}%`;

/** Escapes text for HTML/SVG content and attributes. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
