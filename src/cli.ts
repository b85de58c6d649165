#!/usr/bin/env -S node --max-semi-space-size=8 --heap-growing-percent=50
/**
 * The `sidegate` command: argument parsing only; each command lives in src/cli/<name>.ts.
 * Exit codes: 0 success, 1 an invalid config or a failed check, 2 a usage error.
 *
 * Node runs it with the flags on the first line (here, in `npm start`, in the Docker image
 * and in the bench; a test keeps them the same). Both bound what garbage may cost a
 * sidecar's memory, at no measurable cost in CPU per request (measured by the benchmark):
 *  - `--max-semi-space-size=8`: under load V8 otherwise grows its young generation to
 *    3 × 16 MB, most of it garbage, which pushes RSS past 120 MB.
 *  - `--heap-growing-percent=50`: after a full GC, V8 otherwise lets the old generation
 *    grow up to 4× the live heap before the next one (for a small heap like a sidecar's),
 *    so RSS climbs with every request's few promoted bytes for minutes; at 1.5× it stays
 *    under 100 MB and flat after 200k requests.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError } from './config/load.js';
import { UsageError, writeErr } from './cli/common.js';

// Each command's module is imported when it runs: `validate` never loads the gateway, its
// HTTP client, metrics or logger, so a config check (and a sidecar's start) stays fast.

const USAGE = `usage:
  sidegate start [-c FILE] [--no-watch]      start the gateway (FILE defaults to $SIDEGATE_CONFIG, then ./gateway.yaml)
  sidegate validate [--no-env] [--strict] [--format text|json|github] FILE...
                                             check configs: every error with its line:column, and warnings
  sidegate explain [--format text|mermaid] FILE
                                             each router's compiled pipeline (mermaid: a flowchart)
  sidegate diff [--format text|markdown] OLD NEW
                                             what changes between two compiled pipelines (OLD, NEW: a file or git:REF:path)
  sidegate route FILE --model M [--path /v1/chat/completions] [--method POST] [--header k=v]... [--format text|json]
                                             which router and targets a request would take, and why
  sidegate eval CASES.yaml -c FILE [--live] [--tag T]... [--threshold 0.9] [--junit out.xml] [--json out.json] [--concurrency N]
                                             run evaluation cases through the pipeline (offline: upstreams answer from the mock)
  sidegate keys new NAME [--team T]          print a fresh gateway key (once) and the auth.keys line to paste
  sidegate keys hash                         print the sha256 of a key read from stdin
  sidegate --version
  --no-env (validate, explain, diff, route, eval): read no environment variable; \${VAR:-default} takes its default,
           and \${VAR} stays a placeholder (listed by validate)`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      'no-watch': { type: 'boolean' },
      'no-env': { type: 'boolean' },
      strict: { type: 'boolean' },
      format: { type: 'string' },
      model: { type: 'string', short: 'm' },
      path: { type: 'string' },
      method: { type: 'string' },
      header: { type: 'string', short: 'H', multiple: true },
      live: { type: 'boolean' },
      tag: { type: 'string', multiple: true },
      threshold: { type: 'string' },
      junit: { type: 'string' },
      json: { type: 'string' },
      concurrency: { type: 'string' },
      team: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
}

async function main(argv: string[]): Promise<number | null> {
  let parsed;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.version) return void process.stdout.write(`${version()}\n`), 0;
  const [command, ...args] = positionals;
  if (values.help || !command) return void process.stdout.write(`${USAGE}\n`), 0;
  const noEnv = values['no-env'] === true;
  const one = (): string => {
    const file = args[0] ?? values.config;
    if (!file) throw new UsageError(`sidegate ${command}: name a config file`);
    if (args.length > 1) throw new UsageError(`sidegate ${command}: one config file, got ${args.length}`);
    return file;
  };
  switch (command) {
    case 'start':
      return (await import('./cli/start.js')).startCommand(values.config ?? args[0] ?? process.env.SIDEGATE_CONFIG ?? 'gateway.yaml', !values['no-watch']);
    case 'validate':
      return (await import('./cli/validate.js')).validateCommand({ files: values.config ? [values.config, ...args] : args, noEnv, strict: values.strict === true, format: values.format });
    case 'explain':
      return (await import('./cli/explain.js')).explainCommand(one(), { format: values.format, noEnv });
    case 'diff':
      return (await import('./cli/diff.js')).diffCommand(args, { format: values.format, noEnv });
    case 'route':
      return (await import('./cli/route.js')).routeCommand(one(), { model: values.model, path: values.path, method: values.method, headers: values.header ?? [], format: values.format, noEnv });
    case 'eval':
      return (await import('./cli/eval.js')).evalCommand({
        cases: args,
        config: values.config,
        live: values.live === true,
        tags: values.tag ?? [],
        threshold: values.threshold,
        junit: values.junit,
        json: values.json,
        concurrency: values.concurrency,
        noEnv,
      });
    case 'keys':
      return (await import('./cli/keys.js')).keysCommand(args, values.team);
    default:
      throw new UsageError(`sidegate: unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== null) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      writeErr(`${err.message}\n${USAGE}`);
      process.exitCode = 2;
    } else if (err instanceof Error && err.name === 'CompileError') {
      // review/offline.ts's CompileError, told by name so this file imports no compiler.
      writeErr(err.message);
      process.exitCode = 1;
    } else if (err instanceof ConfigError) {
      writeErr(`${err.issues[0]?.source ?? 'config'}: invalid config\n${err.message}`);
      process.exitCode = 1;
    } else {
      writeErr(err instanceof Error ? (err.stack ?? err.message) : String(err));
      process.exitCode = 1;
    }
  },
);
