/**
 * The config loader's worker thread: reads, parses, interpolates and validates a config
 * off the main thread (see load-async.ts), so a large or hostile file costs the data plane
 * nothing. Answers each request with the loaded config, its issues, or an error.
 */
import { parentPort } from 'node:worker_threads';
import { ConfigError, loadConfigFile, loadConfigText, type LoadedConfig } from './load.js';
import type { LoadRequest, LoadReply } from './load-async.js';
import { encodeChunked } from './chunked-json.js';

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

parentPort!.on('message', (request: LoadRequest) => parentPort!.postMessage(run(request)));
