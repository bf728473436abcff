// Live line charts as SVG: the loss of each step type per optimizer step, and the training speed. Redrawn whole on
// every step (a few hundred points at most).

export interface Line {
  name: string;
  /** A CSS colour (the stage colours of style.css). */
  color: string;
  points: [number, number][];
  dashed?: boolean;
}

const W = 640;
const H = 280;
const M = { left: 52, right: 12, top: 12, bottom: 34 };

/** An SVG chart of `lines` with axes, a few ticks and a legend; empty lines are left out. */
export function lineChart(lines: readonly Line[], yLabel: string): string {
  const drawn = lines.filter((l) => l.points.length > 0);
  const all = drawn.flatMap((l) => l.points);
  if (all.length === 0) return '';
  const [x0, x1] = extent(all.map((p) => p[0]));
  const [y0, y1] = extent(all.map((p) => p[1]));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number) => M.left + (x1 === x0 ? pw / 2 : ((x - x0) / (x1 - x0)) * pw);
  const sy = (y: number) => M.top + (y1 === y0 ? ph / 2 : (1 - (y - y0) / (y1 - y0)) * ph);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" font-size="12" font-family="system-ui, sans-serif">`,
    `<line x1="${M.left}" y1="${M.top + ph}" x2="${M.left + pw}" y2="${M.top + ph}" stroke="#888"/>`,
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${M.top + ph}" stroke="#888"/>`,
  ];
  for (const y of ticks(y0, y1))
    out.push(
      `<text x="${M.left - 6}" y="${sy(y) + 4}" text-anchor="end">${fmt(y)}</text>`,
      `<line x1="${M.left}" y1="${sy(y)}" x2="${M.left + pw}" y2="${sy(y)}" stroke="#eee"/>`,
    );
  for (const x of ticks(x0, x1).filter(Number.isInteger))
    out.push(`<text x="${sx(x)}" y="${M.top + ph + 16}" text-anchor="middle">${x}</text>`);
  out.push(`<text x="${M.left + pw / 2}" y="${H - 2}" text-anchor="middle">step</text>`);
  out.push(
    `<text x="12" y="${M.top + ph / 2}" transform="rotate(-90 12 ${M.top + ph / 2})" text-anchor="middle">${yLabel}</text>`,
  );
  drawn.forEach((l, i) => {
    const dash = l.dashed ? ' stroke-dasharray="6 4"' : '';
    const pts = l.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    out.push(
      `<polyline data-series="${l.name}" points="${pts}" fill="none" stroke="${l.color}" stroke-width="2"${dash}/>`,
    );
    const lx = M.left + pw - 110;
    const ly = M.top + 14 + 16 * i;
    out.push(
      `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 18}" y2="${ly - 4}" stroke="${l.color}" stroke-width="3"${dash}/>`,
      `<text x="${lx + 24}" y="${ly}">${l.name}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('');
}

function extent(xs: number[]): [number, number] {
  return [Math.min(...xs), Math.max(...xs)];
}

/** About five round numbers between a and b. */
function ticks(a: number, b: number): number[] {
  if (a === b) return [a];
  const step = 10 ** Math.floor(Math.log10((b - a) / 4));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (b - a) / s <= 6) ?? step * 10;
  const out: number[] = [];
  for (let t = Math.ceil(a / nice) * nice; t <= b + 1e-9; t += nice) out.push(Number(t.toPrecision(6)));
  return out;
}

const fmt = (y: number) => (Math.abs(y) >= 1000 ? y.toFixed(0) : Number(y.toPrecision(3)).toString());
