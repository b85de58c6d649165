import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

/** Events closer together than this are one change (an editor's write + rename). */
const SETTLE_MS = 50;
/** The symlink a Kubernetes ConfigMap volume swaps on every update. */
const CONFIGMAP_LINK = '..data';

/**
 * Watches a config file by watching its directory (one inotify watch on Linux): an
 * editor's rename-save replaces the file's inode, and a Kubernetes ConfigMap update swaps
 * the `..data` symlink beside it; neither is seen by watching the file alone. Only events
 * naming the file itself or `..data` count (a log file written next to the config costs
 * nothing), and once they settle the file's bytes are compared with the last ones seen:
 * `onChange` (which parses and validates) runs only when they differ, or the file went away.
 */
export interface ConfigWatcher {
  /** Resolves once changes are seen (at once: the watch is in place when this returns). */
  readonly ready: Promise<void>;
  /** True while an event is waiting to settle, before the file's bytes are compared. */
  readonly pending: boolean;
  /** Resolves after the next comparison: true when the bytes had changed. */
  checked(): Promise<boolean>;
  close(): Promise<void>;
}

function readBytes(file: string): Buffer | null {
  try {
    return readFileSync(file);
  } catch {
    return null;
  }
}

export function watchConfigFile(path: string, onChange: () => void, onError: (err: unknown) => void): ConfigWatcher {
  const file = resolve(path);
  const name = basename(file);
  let last = readBytes(file);
  let timer: NodeJS.Timeout | null = null;
  let waiters: Array<(changed: boolean) => void> = [];
  const check = (): void => {
    timer = null;
    const now = readBytes(file);
    const changed = now === null ? last !== null : last === null || !now.equals(last);
    last = now;
    if (changed) onChange();
    const done = waiters;
    waiters = [];
    for (const resolve of done) resolve(changed);
  };
  const watcher: FSWatcher = watch(dirname(file), (_event, filename) => {
    // Some platforms do not name the file: then every event is checked.
    if (filename !== null && filename !== name && filename !== CONFIGMAP_LINK) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(check, SETTLE_MS);
  });
  watcher.on('error', onError);
  return {
    ready: Promise.resolve(),
    get pending() {
      return timer !== null;
    },
    checked: () => new Promise((resolve) => waiters.push(resolve)),
    async close() {
      if (timer) clearTimeout(timer);
      timer = null;
      watcher.close();
    },
  };
}
