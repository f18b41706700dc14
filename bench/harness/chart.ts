/** One bar of the chart: a throughput ratio (ours / baseline) and the target it is held to. */
export interface ChartBar {
  label: string;
  ratio: number;
  target: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * A horizontal bar chart as a standalone SVG (no dependency, no script): one bar per scenario,
 * its ratio against the baseline, the 1.0 line (the baseline) and a tick for each bar's target.
 * Bars that reach their target are green, the others red, and every bar is labelled with its value.
 */
export function ratioChart(title: string, subtitle: string, bars: readonly ChartBar[]): string {
  const width = 760;
  const labelWidth = 330;
  const rowHeight = 30;
  const top = 58;
  // Room on the right for the value and verdict of the longest bar.
  const plotWidth = width - labelWidth - 190;
  const max = Math.max(1.2, ...bars.map((b) => (Number.isFinite(b.ratio) ? b.ratio : 0)));
  const x = (value: number) => labelWidth + (Math.min(value, max) / max) * plotWidth;
  const height = top + bars.length * rowHeight + 40;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="22" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<text x="10" y="42" fill="#555555">${esc(subtitle)}</text>`,
  ];
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    const tx = x(tick * max);
    const value = tick * max;
    parts.push(`<line x1="${tx.toFixed(1)}" y1="${top - 4}" x2="${tx.toFixed(1)}" y2="${top + bars.length * rowHeight}" stroke="#eeeeee"/>`);
    parts.push(`<text x="${tx.toFixed(1)}" y="${top + bars.length * rowHeight + 16}" text-anchor="middle" fill="#777777">${value.toFixed(2)}</text>`);
  }
  bars.forEach((bar, i) => {
    const y = top + i * rowHeight;
    const finite = Number.isFinite(bar.ratio);
    const pass = finite && bar.ratio >= bar.target;
    parts.push(`<text x="${labelWidth - 8}" y="${y + 19}" text-anchor="end">${esc(bar.label)}</text>`);
    if (finite) parts.push(`<rect x="${labelWidth}" y="${y + 6}" width="${(x(bar.ratio) - labelWidth).toFixed(1)}" height="18" fill="${pass ? '#2e7d32' : '#c62828'}"/>`);
    const tx = x(bar.target);
    parts.push(`<line x1="${tx.toFixed(1)}" y1="${y + 2}" x2="${tx.toFixed(1)}" y2="${y + 28}" stroke="#000000" stroke-width="2" stroke-dasharray="3,2"/>`);
    const text = finite ? `${bar.ratio.toFixed(2)} ${pass ? 'PASS' : 'MISS'} (>= ${bar.target.toFixed(2)})` : 'not measured';
    parts.push(`<text x="${(finite ? x(bar.ratio) : labelWidth) + 6}" y="${y + 19}" fill="#222222">${esc(text)}</text>`);
  });
  const one = x(1);
  parts.push(`<line x1="${one.toFixed(1)}" y1="${top - 8}" x2="${one.toFixed(1)}" y2="${top + bars.length * rowHeight + 4}" stroke="#1565c0" stroke-width="2"/>`);
  parts.push(`<text x="${one.toFixed(1)}" y="${top - 12}" text-anchor="middle" fill="#1565c0">1.0 = baseline</text>`);
  parts.push(`<text x="10" y="${height - 6}" fill="#777777" font-size="11">Bars: median of paired rounds (ours / baseline, same run). Dashed tick: the target. Made by npm run bench.</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
