/** The results of an evaluation: the score table, JUnit XML and JSON. */
import type { CaseResult } from './run.js';

export interface Score {
  readonly passed: number;
  readonly total: number;
  /** passed / total (1 for no case). */
  readonly rate: number;
}

export interface Summary {
  readonly total: Score;
  /** By tag, in name order; cases without a tag count under `(untagged)`. */
  readonly tags: Readonly<Record<string, Score>>;
  readonly threshold: number;
  /** total.rate reaches the threshold. */
  readonly passed: boolean;
  readonly latencyMs: { readonly total: number; readonly max: number };
  /** USD of the cases whose cost is known. */
  readonly costUsd: number;
}

const UNTAGGED = '(untagged)';

function score(results: readonly CaseResult[]): Score {
  const passed = results.filter((r) => r.passed).length;
  return { passed, total: results.length, rate: results.length === 0 ? 1 : passed / results.length };
}

export function summarize(results: readonly CaseResult[], threshold: number): Summary {
  const tags = new Map<string, CaseResult[]>();
  for (const r of results) for (const tag of r.tags.length ? r.tags : [UNTAGGED]) tags.set(tag, [...(tags.get(tag) ?? []), r]);
  const total = score(results);
  return {
    total,
    tags: Object.fromEntries([...tags.keys()].sort().map((t) => [t, score(tags.get(t)!)])),
    threshold,
    passed: total.rate >= threshold,
    latencyMs: { total: results.reduce((n, r) => n + r.latencyMs, 0), max: Math.max(0, ...results.map((r) => r.latencyMs)) },
    costUsd: results.reduce((n, r) => n + (r.costUsd ?? 0), 0),
  };
}

const percent = (rate: number): string => `${(rate * 100).toFixed(1)}%`;
const ms = (value: number): string => `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
const usd = (value: number | null): string => (value === null ? "-" : value === 0 ? "$0" : `$${value < 0.01 ? value.toPrecision(2) : value.toFixed(4)}`);

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

/** The score table: per case (result, score, latency, cost, why it failed), per tag, total. */
export function formatReport(results: readonly CaseResult[], summary: Summary): string {
  const cases = table([
    ['case', 'result', 'score', 'status', 'latency', 'cost', 'reason'],
    ...results.map((r) => [r.name, r.passed ? 'PASS' : 'FAIL', r.score.toFixed(2), String(r.status), ms(r.latencyMs), usd(r.costUsd), r.reason]),
  ]);
  const tags = table([
    ['tag', 'passed', 'score'],
    ...Object.entries(summary.tags).map(([tag, s]) => [tag, `${s.passed}/${s.total}`, percent(s.rate)]),
    ['total', `${summary.total.passed}/${summary.total.total}`, percent(summary.total.rate)],
  ]);
  const verdict = `${summary.passed ? 'PASS' : 'FAIL'}: ${percent(summary.total.rate)} of cases passed (threshold ${percent(summary.threshold)}); ${ms(summary.latencyMs.total)} in all, cost ${usd(summary.costUsd)}`;
  return [...cases, '', ...tags, '', verdict].join('\n');
}

function xml(text: string): string {
  // XML 1.0 cannot hold most control characters, even escaped.
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** JUnit XML: one testsuite per cases file, one testcase per case (classname: its first tag). */
export function junitXml(results: readonly CaseResult[]): string {
  const files = [...new Set(results.map((r) => r.source))];
  const seconds = (list: readonly CaseResult[]) => (list.reduce((n, r) => n + r.latencyMs, 0) / 1000).toFixed(3);
  const failures = (list: readonly CaseResult[]) => list.filter((r) => !r.passed).length;
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites name="sidegate eval" tests="${results.length}" failures="${failures(results)}" errors="0" time="${seconds(results)}">`];
  for (const file of files) {
    const list = results.filter((r) => r.source === file);
    lines.push(`  <testsuite name="${xml(file)}" tests="${list.length}" failures="${failures(list)}" errors="0" skipped="0" time="${seconds(list)}">`);
    for (const r of list) {
      const head = `    <testcase name="${xml(r.name)}" classname="${xml(r.tags[0] ?? file)}" time="${(r.latencyMs / 1000).toFixed(3)}"`;
      if (r.passed) {
        lines.push(`${head}/>`);
      } else {
        lines.push(`${head}>`, `      <failure message="${xml(r.reason)}" type="expectation">${xml(`status ${r.status}; answer: ${r.answer}`)}</failure>`, '    </testcase>');
      }
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}

/** The `--json` document. */
export function jsonReport(results: readonly CaseResult[], summary: Summary): string {
  return `${JSON.stringify({ summary, cases: results.map((r) => ({ ...r, latencyMs: Math.round(r.latencyMs * 1000) / 1000 })) }, null, 2)}\n`;
}
