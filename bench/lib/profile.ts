/**
 * Reads a V8 .cpuprofile (node --cpu-prof) of the gateway under load: where its busy time
 * goes, by package (native calls charged to the JavaScript that made them) and by function,
 * with sidegate's own code (dist/ or src/) listed apart from node internals and packages.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

const isOwn = (url: string): boolean => /\/(dist|src)\//.test(url) && !url.includes('/node_modules/');

/** Who owns a frame: `sidegate`, a package name, `node:<module>`, or '' for a native frame. */
function owner(url: string): string {
  if (!url) return '';
  if (isOwn(url)) return 'sidegate';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const internal = /^node:(?:internal\/)?([^/]+)/.exec(url);
  return internal ? `node:${internal[1]}` : url;
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = isOwn(url) ? /\/((?:dist|src)\/.*)$/.exec(url)![1]! : owner(url) || '(native)';
  return `${functionName || '(anonymous)'} ${file}${url ? `:${lineNumber + 1}` : ''}`;
}

export interface ProfileSummary {
  /** Sampled time that was not idle, ms. */
  busyMs: number;
  byPackage: Array<[string, number]>;
  byFunction: Array<[string, number]>;
  own: Array<[string, number]>;
}

export function summarize(file: string): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const packageOf = new Map<number, string>();
  const charge = (id: number): string => {
    let pkg = packageOf.get(id);
    if (pkg !== undefined) return pkg;
    const node = byId.get(id)!;
    const name = node.callFrame.functionName;
    pkg = owner(node.callFrame.url);
    if (!pkg) {
      const up = parent.get(id);
      pkg = name.startsWith('(') || up === undefined ? name || '(native)' : charge(up);
    }
    packageOf.set(id, pkg);
    return pkg;
  };
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const own = new Map<string, number>();
  let busyMs = 0;
  const samples = profile.samples ?? [];
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i]!);
    const ms = (profile.timeDeltas?.[i] ?? 0) / 1000;
    if (!node || node.callFrame.functionName === '(idle)') continue;
    busyMs += ms;
    const key = label(node);
    byFunction.set(key, (byFunction.get(key) ?? 0) + ms);
    if (isOwn(node.callFrame.url)) own.set(key, (own.get(key) ?? 0) + ms);
    const pkg = charge(node.id);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + ms);
  }
  const sorted = (m: Map<string, number>): Array<[string, number]> => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return { busyMs, byPackage: sorted(byPackage), byFunction: sorted(byFunction), own: sorted(own) };
}

/** A printable summary: busy time by package, then the top `n` functions overall and of sidegate's own. */
export function summarizeProfile(file: string, n: number): string {
  const { busyMs, byPackage, byFunction, own } = summarize(file);
  const pct = (v: number): string => `${((100 * v) / busyMs).toFixed(1).padStart(5)} %`;
  const list = (rows: Array<[string, number]>): string => rows.slice(0, n).map(([k, v]) => `  ${pct(v)}  ${v.toFixed(0).padStart(6)} ms  ${k}`).join('\n');
  return [
    `busy ${busyMs.toFixed(0)} ms (idle left out); self time by package, native calls charged to their caller:`,
    list(byPackage),
    'top self time by function:',
    list(byFunction),
    "top self time in sidegate's own code:",
    list(own),
  ].join('\n');
}
