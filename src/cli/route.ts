/**
 * `sidegate route FILE --model M [--path P] [--method M] [--header k=v]... [--format text|json] [--no-env]`:
 * which router a request would take, why, its targets in order and its stages.
 */
import { GatewayError } from '../errors.js';
import { closePipeline } from '../pipeline/compile.js';
import { compileOffline } from '../review/offline.js';
import { formatRoute, routeRequest } from '../review/route.js';
import { choice, loadSpec, UsageError, write, writeErr } from './common.js';

export const ROUTE_FORMATS = ['text', 'json'] as const;

export interface RouteOptions {
  readonly model?: string | undefined;
  readonly path?: string | undefined;
  readonly method?: string | undefined;
  readonly headers: readonly string[];
  readonly format?: string | undefined;
  readonly noEnv: boolean;
}

function parseHeaders(items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`--header ${JSON.stringify(item)}: expected name=value`);
    out[item.slice(0, eq).trim().toLowerCase()] = item.slice(eq + 1);
  }
  return out;
}

export async function routeCommand(file: string, options: RouteOptions): Promise<number> {
  const format = choice('format', options.format, ROUTE_FORMATS, 'text');
  const headers = parseHeaders(options.headers);
  if (options.path !== undefined && !options.path.startsWith('/')) throw new UsageError('--path must start with /, e.g. /v1/chat/completions');
  const pipeline = await compileOffline(loadSpec(file, { noEnv: options.noEnv }));
  try {
    const result = routeRequest(pipeline, { model: options.model, path: options.path, method: options.method, headers });
    write(format === 'json' ? JSON.stringify(result, null, 2) : formatRoute(result));
    return 0;
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    const answer = { status: err.status, code: err.code, message: err.message };
    if (format === 'json') write(JSON.stringify({ error: answer }, null, 2));
    else writeErr(`no router: the gateway would answer ${err.status} ${err.code}: ${err.message}`);
    return 1;
  } finally {
    await closePipeline(pipeline);
  }
}
