/**
 * A grouped (optionally stacked) bar chart as hand-written SVG: groups along x (e.g. C = 2, 8, 32),
 * one bar per series in each group, linear or log y axis, legend on the right.
 */

export interface BarSeries {
  readonly name: string;
  readonly color: string;
  /** One value per group; undefined or NaN draws no bar ("n/a"). */
  readonly values: readonly (number | undefined)[];
  /** Optional lower part of each bar, drawn darker (e.g. client commands within all commands). */
  readonly lower?: readonly (number | undefined)[];
}

export interface BarChart {
  readonly title: string;
  readonly subtitle?: string;
  readonly yLabel: string;
  readonly groups: readonly string[];
  readonly series: readonly BarSeries[];
  readonly log?: boolean;
  /** Horizontal reference lines, e.g. a target. */
  readonly marks?: readonly { readonly value: number; readonly label: string }[];
  /** Fixed upper bound of the y axis (linear charts), e.g. 1 for ratios. */
  readonly yMax?: number;
}

const WIDTH = 980;
const HEIGHT = 420;
const PLOT = { left: 70, right: 310, top: 60, bottom: 50 } as const;
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function isValue(value: number | undefined): value is number {
  return value !== undefined && Number.isFinite(value);
}

function niceStep(range: number): number {
  const rough = range / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const scaled = rough / power;
  return (scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10) * power;
}

function formatTick(value: number): string {
  if (value >= 1000) return `${value / 1000}k`;
  return String(Number(value.toPrecision(3)));
}

export function renderBarChart(chart: BarChart): string {
  const values = chart.series.flatMap((s) => s.values.filter(isValue));
  const markValues = (chart.marks ?? []).map((m) => m.value);
  const plotWidth = WIDTH - PLOT.left - PLOT.right;
  const plotHeight = HEIGHT - PLOT.top - PLOT.bottom;

  let toY: (value: number) => number;
  let ticks: number[];
  if (chart.log) {
    const positive = [...values, ...markValues].filter((v) => v > 0);
    const low = 10 ** Math.floor(Math.log10(Math.min(...positive, 1)));
    const high = 10 ** Math.ceil(Math.log10(Math.max(...positive, 10)));
    const span = Math.log10(high) - Math.log10(low);
    toY = (v) =>
      PLOT.top +
      plotHeight -
      ((Math.log10(Math.max(v, low)) - Math.log10(low)) / span) * plotHeight;
    ticks = [];
    for (let t = low; t <= high * 1.0001; t *= 10) ticks.push(t);
  } else {
    const high = chart.yMax ?? Math.max(...values, ...markValues, 1e-9) * 1.1;
    const step = niceStep(high);
    const top = chart.yMax ?? Math.ceil(high / step) * step;
    toY = (v) => PLOT.top + plotHeight - (v / top) * plotHeight;
    ticks = [];
    for (let t = 0; t <= top + step / 1000; t += step) ticks.push(Number(t.toPrecision(6)));
  }
  const baseline = PLOT.top + plotHeight;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" ${FONT} font-size="12" role="img">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${PLOT.left}" y="24" font-size="16" font-weight="600">${escapeXml(chart.title)}</text>`,
  );
  if (chart.subtitle) {
    out.push(`<text x="${PLOT.left}" y="42" fill="#555">${escapeXml(chart.subtitle)}</text>`);
  }
  for (const tick of ticks) {
    const y = toY(tick).toFixed(1);
    out.push(
      `<line x1="${PLOT.left}" x2="${PLOT.left + plotWidth}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`,
      `<text x="${PLOT.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#444">${formatTick(tick)}</text>`,
    );
  }
  out.push(
    `<text transform="translate(18 ${PLOT.top + plotHeight / 2}) rotate(-90)" text-anchor="middle" fill="#333">${escapeXml(chart.yLabel)}${chart.log ? ' (log scale)' : ''}</text>`,
  );

  const groupWidth = plotWidth / Math.max(1, chart.groups.length);
  const barWidth = (groupWidth * 0.8) / Math.max(1, chart.series.length);
  chart.groups.forEach((group, g) => {
    const groupLeft = PLOT.left + g * groupWidth + groupWidth * 0.1;
    out.push(
      `<text x="${(PLOT.left + (g + 0.5) * groupWidth).toFixed(1)}" y="${baseline + 20}" text-anchor="middle" fill="#222">${escapeXml(group)}</text>`,
    );
    chart.series.forEach((series, s) => {
      const x = groupLeft + s * barWidth;
      const value = series.values[g];
      if (!isValue(value)) {
        out.push(
          `<text x="${(x + barWidth / 2).toFixed(1)}" y="${baseline - 4}" text-anchor="middle" font-size="9" fill="#999">n/a</text>`,
        );
        return;
      }
      const y = toY(value);
      out.push(
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barWidth - 1).toFixed(1)}" height="${Math.max(0, baseline - y).toFixed(1)}" fill="${series.color}" fill-opacity="${series.lower ? 0.45 : 1}"><title>${escapeXml(`${series.name}, ${group}: ${value}`)}</title></rect>`,
      );
      const lower = series.lower?.[g];
      if (isValue(lower)) {
        const lowerY = toY(Math.min(lower, value));
        out.push(
          `<rect x="${x.toFixed(1)}" y="${lowerY.toFixed(1)}" width="${(barWidth - 1).toFixed(1)}" height="${Math.max(0, baseline - lowerY).toFixed(1)}" fill="${series.color}"><title>${escapeXml(`${series.name}, ${group}: ${lower} (lower part)`)}</title></rect>`,
        );
      }
    });
  });
  out.push(
    `<line x1="${PLOT.left}" x2="${PLOT.left + plotWidth}" y1="${baseline}" y2="${baseline}" stroke="#333"/>`,
  );
  for (const mark of chart.marks ?? []) {
    const y = toY(mark.value).toFixed(1);
    out.push(
      `<line x1="${PLOT.left}" x2="${PLOT.left + plotWidth}" y1="${y}" y2="${y}" stroke="#d62728" stroke-dasharray="6 4"/>`,
      `<text x="${PLOT.left + plotWidth + 6}" y="${y}" dominant-baseline="middle" font-size="11" fill="#d62728">${escapeXml(mark.label)}</text>`,
    );
  }
  chart.series.forEach((series, s) => {
    const y = PLOT.top + 8 + s * 20;
    const x = WIDTH - PLOT.right + 50;
    out.push(
      `<rect x="${x}" y="${y - 9}" width="12" height="12" fill="${series.color}"/>`,
      `<text x="${x + 18}" y="${y}" dominant-baseline="middle" fill="#222">${escapeXml(series.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
