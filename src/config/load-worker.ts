/**
 * The config loader's worker thread: reads, parses, interpolates and validates a config
 * off the main thread (see load-async.ts), so a large or hostile file costs the data plane
 * nothing. Answers each request with the loaded config, its issues, or an error.
 */
import { parentPort } from 'node:worker_threads';
import { setPriority } from 'node:os';
import { ConfigError, loadConfigFile, loadConfigText, type LoadedConfig } from './load.js';
import type { LoadRequest, LoadReply } from './load-async.js';
import { encodeChunked } from './chunked-json.js';

/** How far below the process's priority the loader runs. */
const LOADER_NICE = 10;

function run(request: LoadRequest): LoadReply {
  try {
    const loaded: LoadedConfig =
      request.kind === 'file' ? loadConfigFile(request.path, request.env) : loadConfigText(request.text, request.source, request.env);
    if (loaded.hash === request.unlessHash) return { id: request.id, unchanged: true };
    const { redacted, ...rest } = loaded;
    return { id: request.id, loaded: encodeChunked(rest), redacted: JSON.stringify(redacted) };
  } catch (err) {
    if (err instanceof ConfigError) return { id: request.id, issues: err.issues };
    return { id: request.id, error: err instanceof Error ? err.message : String(err) };
  }
}

// Below the data plane: on a busy CPU the requests' thread goes first and a reload waits.
// (On Linux, priority 0's "process" is the calling thread: only this worker is lowered.)
if (process.platform === 'linux') {
  try {
    setPriority(0, LOADER_NICE);
  } catch {
    // not allowed here (a container may forbid it): the loader runs at the process's priority
  }
}

parentPort!.on('message', (request: LoadRequest) => parentPort!.postMessage(run(request)));
