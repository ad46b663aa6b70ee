/**
 * Stacked bar charts as inline SVG for `grm report`: one bar per day, one
 * segment per series, each segment titled with its day, series and value (the
 * browser's tooltip), axes with the largest value and month or week ticks.
 * No library, nothing fetched. Pure: data in, markup out (every text escaped).
 */
import {escapeHtml} from './html';

export interface Series {
  name: string;
  colour: string;
  /** One value per day, in the chart's day order. */
  values: number[];
}

const WIDTH = 960;
const HEIGHT = 200;
const LEFT = 70;
const BOTTOM = 22;
const TOP = 8;

/** A stacked bar chart of `series` over `days`; `format` writes a value for people. */
export function stackedBars(o: {
  label: string;
  days: string[];
  series: Series[];
  format: (n: number) => string;
}): string {
  const n = Math.max(o.days.length, 1);
  const step = (WIDTH - LEFT - 4) / n;
  const bar = Math.max(step * 0.8, Math.min(step, 1));
  const plot = HEIGHT - BOTTOM - TOP;
  const sums = o.days.map((_, i) => o.series.reduce((s, x) => s + (x.values[i] ?? 0), 0));
  const max = Math.max(...sums, 0);
  const y = (v: number) => (max > 0 ? (v / max) * plot : 0);
  const rects: string[] = [];
  o.days.forEach((day, i) => {
    let base = HEIGHT - BOTTOM;
    for (const s of o.series) {
      const v = s.values[i] ?? 0;
      if (v <= 0) continue;
      const h = Math.max(y(v), 0.5);
      base -= h;
      rects.push(
        `<rect x="${num(LEFT + i * step)}" y="${num(base)}" width="${num(bar)}" height="${num(h)}" fill="${escapeHtml(s.colour)}">` +
          `<title>${escapeHtml(`${day} ${s.name}: ${o.format(v)}`)}</title></rect>`,
      );
    }
  });
  const ticks = xTicks(o.days).map(
    ({i, text}) =>
      `<line x1="${num(LEFT + i * step)}" x2="${num(LEFT + i * step)}" y1="${HEIGHT - BOTTOM}" y2="${HEIGHT - BOTTOM + 4}" stroke="#888"/>` +
      `<text x="${num(LEFT + i * step)}" y="${HEIGHT - 6}" font-size="11" fill="#444">${escapeHtml(text)}</text>`,
  );
  const axis = [
    `<line x1="${LEFT - 2}" x2="${WIDTH}" y1="${HEIGHT - BOTTOM}" y2="${HEIGHT - BOTTOM}" stroke="#888"/>`,
    `<text x="${LEFT - 6}" y="${HEIGHT - BOTTOM}" font-size="11" text-anchor="end" fill="#444">0</text>`,
    ...(max > 0
      ? [
          `<line x1="${LEFT - 2}" x2="${WIDTH}" y1="${TOP}" y2="${TOP}" stroke="#ddd"/>`,
          `<text x="${LEFT - 6}" y="${TOP + 10}" font-size="11" text-anchor="end" fill="#444">${escapeHtml(o.format(max))}</text>`,
        ]
      : []),
  ];
  const legend = o.series
    .map(
      s =>
        `<li><span class="swatch" style="background:${escapeHtml(s.colour)}"></span>` +
        `<span class="series-name" title="${escapeHtml(s.name)}">${escapeHtml(clip(s.name, 140))}</span> ` +
        `<span class="muted">${escapeHtml(o.format(s.values.reduce((a, b) => a + b, 0)))}</span></li>`,
    )
    .join('');
  return (
    `<figure class="chart"><svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(o.label)}" xmlns="http://www.w3.org/2000/svg">` +
    axis.join('') +
    ticks.join('') +
    rects.join('') +
    (max === 0
      ? `<text x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle" font-size="13" fill="#666">nothing in this range</text>`
      : '') +
    `</svg><figcaption><ul class="series">${legend}</ul></figcaption></figure>`
  );
}

/** Month starts for long ranges; every 7th day for a month or less. */
function xTicks(days: string[]): Array<{i: number; text: string}> {
  if (days.length <= 45)
    return days.flatMap((d, i) => (i % 7 === 0 ? [{i, text: d.slice(5)}] : []));
  return days.flatMap((d, i) =>
    d.endsWith('-01') || (i === 0 && Number(d.slice(8)) <= 15) ? [{i, text: d.slice(0, 7)}] : [],
  );
}

function num(v: number): string {
  return String(Math.round(v * 10) / 10);
}

export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
