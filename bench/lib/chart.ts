/**
 * The bench's chart: one horizontal bar per case (and per growth step) with its CPU ratio
 * to the bare proxy (bare µs per request ÷ sidegate's), a line at 1.00× and a tick at each
 * target, so a regression shows at a glance. Plain SVG, no dependency.
 */
import type { Chartable } from './report.js';

const ROW = 22;
const LABEL_W = 150;
const BAR_W = 420;
const TOP = 44;
const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function ratioChart(rows: readonly Chartable[], title: string, subtitle: string): string {
  const finite = rows.filter((r) => Number.isFinite(r.ratio));
  const top = Math.max(2.5, ...finite.map((r) => r.ratio), ...finite.map((r) => r.target ?? 0)) * 1.05;
  const x = (v: number): number => LABEL_W + (BAR_W * v) / top;
  const height = TOP + rows.length * ROW + 30;
  const width = LABEL_W + BAR_W + 70;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="8" y="16" font-size="14" font-weight="bold">${escape(title)}</text>`,
    `<text x="8" y="32" fill="#555">${escape(subtitle)}</text>`,
  ];
  rows.forEach((r, i) => {
    const y = TOP + i * ROW;
    const ok = r.target === null ? null : r.ratio >= r.target;
    const fill = ok === null ? '#7a9cc6' : ok ? '#4caf50' : '#e57373';
    out.push(`<text x="${LABEL_W - 8}" y="${y + 14}" text-anchor="end">${escape(r.label)}</text>`);
    if (Number.isFinite(r.ratio)) {
      out.push(`<rect x="${LABEL_W}" y="${y + 3}" width="${(x(r.ratio) - LABEL_W).toFixed(1)}" height="${ROW - 6}" fill="${fill}"/>`);
      out.push(`<text x="${(x(r.ratio) + 4).toFixed(1)}" y="${y + 14}">${r.ratio.toFixed(2)}×</text>`);
    } else {
      out.push(`<text x="${LABEL_W + 4}" y="${y + 14}" fill="#888">skipped</text>`);
    }
    if (r.target !== null) out.push(`<line x1="${x(r.target).toFixed(1)}" x2="${x(r.target).toFixed(1)}" y1="${y + 1}" y2="${y + ROW - 1}" stroke="#000" stroke-width="2"/>`);
  });
  const bottom = TOP + rows.length * ROW;
  out.push(`<line x1="${x(1).toFixed(1)}" x2="${x(1).toFixed(1)}" y1="${TOP - 4}" y2="${bottom + 4}" stroke="#333" stroke-dasharray="4 3"/>`);
  out.push(`<text x="${x(1).toFixed(1)}" y="${bottom + 18}" text-anchor="middle" fill="#333">1.00× = the bare proxy; black tick = target</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
