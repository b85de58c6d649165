/**
 * `sidegate validate [--no-env] [--strict] [--format text|json|github] FILE...`
 * Exit 0: every file is valid (warnings allowed unless --strict); 1: a file is invalid.
 */
import { basename } from 'node:path';
import { ConfigError, formatIssue, type ConfigIssue } from '../config/load.js';
import type { Placeholder } from '../config/interpolate.js';
import { configWarnings } from '../review/warnings.js';
import { choice, loadText, locatorFor, readConfigText, UsageError, write, writeErr } from './common.js';

export const VALIDATE_FORMATS = ['text', 'json', 'github'] as const;

export interface ValidateOptions {
  readonly files: readonly string[];
  readonly noEnv: boolean;
  readonly strict: boolean;
  readonly format?: string | undefined;
}

export type Severity = 'error' | 'warning';

/** One finding, as `--format json` prints it. */
export interface Finding {
  file: string;
  line: number | null;
  column: number | null;
  path: string;
  message: string;
  severity: Severity;
  /** The closest valid alternative, when there is one. */
  suggestion?: string;
}

interface FileResult {
  file: string;
  valid: boolean;
  routers: number | null;
  upstreams: number | null;
  findings: Finding[];
  placeholders: (Omit<Placeholder, 'pointer'> & { file: string })[];
}

function finding(file: string, issue: ConfigIssue, severity: Severity): Finding {
  const out: Finding = { file, line: issue.line ?? null, column: issue.column ?? null, path: issue.path, message: issue.message, severity };
  if (issue.suggestion !== undefined) out.suggestion = issue.suggestion;
  return out;
}

function check(file: string, noEnv: boolean, strict: boolean): FileResult {
  const result: FileResult = { file, valid: true, routers: null, upstreams: null, findings: [], placeholders: [] };
  try {
    const text = readConfigText(file);
    const loaded = loadText(text, { noEnv });
    result.routers = Object.keys(loaded.config.routers).length;
    result.upstreams = Object.keys(loaded.config.upstreams).length;
    result.placeholders = loaded.placeholders.map(({ pointer: _, ...p }) => ({ file, ...p }));
    result.findings = configWarnings(loaded, locatorFor(text)).map((w) => finding(file, w, strict ? 'error' : 'warning'));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    result.findings = err.issues.map((issue) => finding(file, issue, 'error'));
  }
  result.valid = !result.findings.some((f) => f.severity === 'error');
  return result;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function issueOf(f: Finding): ConfigIssue {
  const issue: ConfigIssue = { path: f.path, message: f.message, source: f.file };
  if (f.line !== null) Object.assign(issue, { line: f.line, column: f.column ?? 1 });
  if (f.suggestion !== undefined) issue.suggestion = f.suggestion;
  return issue;
}

function printText(results: FileResult[], strict: boolean): void {
  for (const r of results) {
    const errors = r.findings.filter((f) => f.severity === 'error');
    const warnings = r.findings.filter((f) => f.severity === 'warning');
    if (r.valid) {
      const extra = warnings.length ? `, ${plural(warnings.length, 'warning')}` : '';
      write(`${r.file}: ok (${plural(r.routers!, 'router')}, ${plural(r.upstreams!, 'upstream')}${extra})`);
    } else {
      writeErr(`${r.file}: invalid config${strict && r.routers !== null ? ' (--strict: warnings are errors)' : ''}`);
    }
    for (const e of errors) writeErr(formatIssue(issueOf(e)));
    for (const w of warnings) writeErr(`warning: ${formatIssue(issueOf(w))}`);
    if (r.placeholders.length) {
      write(`  placeholders (no value without the environment): ${[...new Set(r.placeholders.map((p) => p.name))].map((n) => `\${${n}}`).join(', ')}`);
      for (const p of r.placeholders) write(`    \${${p.name}} at ${p.path} (${basename(p.file)}:${p.line ?? '?'}:${p.column ?? '?'})`);
    }
  }
}

/** GitHub Actions workflow commands: `::error file=…,line=…,col=…,title=…::message`. */
function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

function annotation(kind: 'error' | 'warning' | 'notice', file: string, line: number | null, column: number | null, title: string, message: string): string {
  const props = [`file=${escapeProperty(file)}`];
  if (line !== null) props.push(`line=${line}`, `col=${column ?? 1}`);
  props.push(`title=${escapeProperty(title)}`);
  return `::${kind} ${props.join(',')}::${escapeData(message)}`;
}

function printGithub(results: FileResult[]): void {
  for (const r of results) {
    for (const f of r.findings) {
      const suggestion = f.suggestion === undefined ? '' : `, did you mean ${JSON.stringify(f.suggestion)}?`;
      write(annotation(f.severity, f.file, f.line, f.column, `sidegate validate: ${f.path || 'config'}`, `${f.path ? `${f.path}: ` : ''}${f.message}${suggestion}`));
    }
    for (const p of r.placeholders) {
      write(annotation('notice', p.file, p.line ?? null, p.column ?? null, 'sidegate validate: placeholder', `\${${p.name}} at ${p.path} has no value without the environment; it is read when the gateway starts`));
    }
    write(`${r.file}: ${r.valid ? 'ok' : 'invalid'}`);
  }
}

/** Runs the command; resolves with the exit code. */
export function validateCommand(options: ValidateOptions): number {
  const format = choice('format', options.format, VALIDATE_FORMATS, 'text');
  if (options.files.length === 0) throw new UsageError('sidegate validate: name at least one config file');
  const results = options.files.map((file) => check(file, options.noEnv, options.strict));
  const valid = results.every((r) => r.valid);
  if (format === 'json') {
    write(
      JSON.stringify(
        {
          valid,
          files: results.map(({ file, valid: ok, routers, upstreams }) => ({ file, valid: ok, routers, upstreams })),
          findings: results.flatMap((r) => r.findings),
          placeholders: results.flatMap((r) => r.placeholders),
        },
        null,
        2,
      ),
    );
  } else if (format === 'github') {
    printGithub(results);
  } else {
    printText(results, options.strict);
  }
  return valid ? 0 : 1;
}
