/**
 * `sidegate eval CASES.yaml... -c FILE [--live] [--tag T]... [--threshold R] [--junit out.xml] [--json out.json] [--concurrency N] [--no-env]`
 * Exit 0 when the share of passing cases reaches the threshold (default 1: every case), else 1.
 */
import { writeFileSync } from 'node:fs';
import { ConfigError, formatIssues } from '../config/load.js';
import { loadCases, type CompiledCase } from '../eval/cases.js';
import { formatReport, jsonReport, junitXml, summarize } from '../eval/report.js';
import { runEval } from '../eval/run.js';
import { loadText, readConfigText, UsageError, write, writeErr } from './common.js';

export interface EvalOptions {
  readonly cases: readonly string[];
  readonly config?: string | undefined;
  readonly live: boolean;
  readonly tags: readonly string[];
  readonly threshold?: string | undefined;
  readonly junit?: string | undefined;
  readonly json?: string | undefined;
  readonly concurrency?: string | undefined;
  readonly noEnv: boolean;
}

const MAX_CONCURRENCY = 64;

function number(option: string, text: string | undefined, fallback: number, min: number, max: number, integer: boolean): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new UsageError(`--${option} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max} (got "${text}")`);
  }
  return value;
}

/** The cases of every file, or null when one is invalid (its issues printed). */
function readCases(files: readonly string[]): CompiledCase[] | null {
  const all: CompiledCase[] = [];
  for (const file of files) {
    const { text } = readConfigText(file);
    try {
      all.push(...loadCases(text, file));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      writeErr(`${file}: invalid evaluation cases\n${formatIssues(err.issues)}`);
      return null;
    }
  }
  return all;
}

export async function evalCommand(options: EvalOptions): Promise<number> {
  if (options.cases.length === 0) throw new UsageError('sidegate eval: name a cases file');
  if (!options.config) throw new UsageError('sidegate eval: name the gateway config with -c FILE');
  if (options.live && options.noEnv) throw new UsageError('sidegate eval: --live calls the configured upstreams and needs the environment; drop --no-env');
  const threshold = number('threshold', options.threshold, 1, 0, 1, false);
  const concurrency = number('concurrency', options.concurrency, 4, 1, MAX_CONCURRENCY, true);

  let cases = readCases(options.cases);
  if (cases === null) return 1;
  if (options.tags.length) cases = cases.filter((c) => c.tags.some((t) => options.tags.includes(t)));
  if (cases.length === 0) {
    writeErr(`sidegate eval: no case has the tag${options.tags.length === 1 ? '' : 's'} ${options.tags.join(', ')}`);
    return 1;
  }
  // Offline, the upstreams are mocks: a credential without its variable is a placeholder.
  const loaded = loadText(readConfigText(options.config), { noEnv: options.noEnv, placeholders: !options.live });

  const tty = process.stderr.isTTY === true;
  const results = await runEval(loaded, cases, {
    live: options.live,
    concurrency,
    onProgress: tty ? (done, passed, total) => process.stderr.write(`\r  ${done}/${total} cases done, ${passed} passing`) : undefined,
  });
  if (tty) process.stderr.write('\n');
  const summary = summarize(results, threshold);
  write(formatReport(results, summary));
  if (options.junit) writeFileSync(options.junit, junitXml(results));
  if (options.json === '-') write(jsonReport(results, summary));
  else if (options.json) writeFileSync(options.json, jsonReport(results, summary));
  return summary.passed ? 0 : 1;
}
