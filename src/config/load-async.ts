/**
 * Loading a config on a worker thread, for reloads of a running gateway. Parsing and
 * validating a large file takes long enough to stall every request in flight if it ran on
 * the event loop; on the worker it costs the data plane only reading the result back,
 * which is done in slices between requests (chunked-json.ts), frozen in slices too. The
 * redacted copy (for /config) crosses as JSON text and is parsed when first read. The
 * worker's heap is capped, so a file that would exhaust memory fails the
 * reload instead of the process. One worker per gateway, started on the first reload,
 * unref'd (it never keeps the process alive) and stopped with the gateway.
 */
import { Worker } from 'node:worker_threads';
import { ConfigError, type ConfigIssue, type LoadedConfig } from './load.js';
import { deepFreeze, deepFreezeSteps } from './freeze.js';
import { decodeChunked, type ChunkedJson } from './chunked-json.js';
import { runSliced, type Steps } from '../util/slices.js';

export type LoadRequest =
  | { id: number; kind: 'file'; path: string; env: NodeJS.ProcessEnv; unlessHash: string | null }
  | { id: number; kind: 'text'; text: string; source: string; env: NodeJS.ProcessEnv; unlessHash: string | null };

export type LoadReply =
  | { id: number; unchanged: true }
  /**
   * The LoadedConfig but `redacted` as JSON in pieces (parsing JSON is several times faster
   * than a structured copy of many small objects), and `redacted` as JSON text.
   */
  | { id: number; loaded: ChunkedJson; redacted: string }
  | { id: number; issues: ConfigIssue[] }
  | { id: number; error: string };

/** The worker's heap ceiling: far above what a config within the size limits needs. */
const WORKER_HEAP_MB = 512;

export type LoadSource = { kind: 'file'; path: string } | { kind: 'text'; text: string; source: string };

/** What a reload gets back: a config, or `unchanged` when its hash is the one given. */
export type AsyncLoad = { unchanged: true } | { unchanged: false; loaded: LoadedConfig };

function startWorker(): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    // Running from source (tests, `tsx`): the worker registers the same TypeScript loader first.
    const entry = new URL('./load-worker.ts', here).href;
    return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`, {
      eval: true,
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
    });
  }
  return new Worker(new URL('./load-worker.js', here), { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
}

/** The worker's LoadedConfig back as plain data, frozen again; `redacted` parsed when first read. */
function* loadedSteps(chunked: ChunkedJson, redactedJson: string): Steps<LoadedConfig> {
  const plain = (yield* decodeChunked(chunked)) as Omit<LoadedConfig, 'redacted'>;
  yield* deepFreezeSteps(plain);
  let redacted: unknown;
  const loaded = {
    config: plain.config,
    source: plain.source,
    hash: plain.hash,
    keys: plain.keys,
    keysFile: plain.keysFile,
    placeholders: plain.placeholders,
  } as LoadedConfig;
  Object.defineProperty(loaded, 'redacted', { enumerable: true, get: () => (redacted ??= deepFreeze(JSON.parse(redactedJson))) });
  return Object.freeze(loaded);
}

export class ConfigLoader {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: AsyncLoad) => void; reject: (err: unknown) => void; source: string }>();

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = startWorker();
    worker.unref();
    worker.on('message', (reply: LoadReply) => this.settle(reply));
    const fail = (why: string): void => {
      if (this.worker === worker) this.worker = null;
      for (const [id, call] of this.pending) {
        this.pending.delete(id);
        call.reject(new ConfigError([{ path: '', message: `the config could not be loaded: ${why}`, source: call.source }]));
      }
    };
    worker.on('error', (err: Error) => fail((err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'it needs more memory than a config may use' : err.message));
    worker.on('exit', () => fail('the loader stopped'));
    this.worker = worker;
    return worker;
  }

  private settle(reply: LoadReply): void {
    const call = this.pending.get(reply.id);
    if (!call) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker?.unref();
    if ('unchanged' in reply) return call.resolve({ unchanged: true });
    if ('issues' in reply) return call.reject(new ConfigError(reply.issues));
    if ('error' in reply) return call.reject(new Error(reply.error));
    runSliced(loadedSteps(reply.loaded, reply.redacted)).then((loaded) => call.resolve({ unchanged: false, loaded }), call.reject);
  }

  /** Loads on the worker; resolves `unchanged` when the file's hash is `unlessHash`. Rejects with ConfigError. */
  load(what: LoadSource, env: NodeJS.ProcessEnv, unlessHash: string | null): Promise<AsyncLoad> {
    const worker = this.ensureWorker();
    const id = this.nextId++;
    const env2 = { ...env };
    const request: LoadRequest =
      what.kind === 'file'
        ? { id, kind: 'file', path: what.path, env: env2, unlessHash }
        : { id, kind: 'text', text: what.text, source: what.source, env: env2, unlessHash };
    worker.ref(); // a reload in progress keeps the process alive; an idle loader does not
    return new Promise<AsyncLoad>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, source: what.kind === 'file' ? what.path : what.source });
      worker.postMessage(request);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }
}
