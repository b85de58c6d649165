import { watch, type FSWatcher } from 'chokidar';
import { dirname, resolve } from 'node:path';

/** Events closer together than this are one change (an editor's write + rename). */
const SETTLE_MS = 50;

/**
 * Watches a config file by watching its directory (depth 0): an editor's rename-save
 * replaces the file's inode, and a Kubernetes ConfigMap update swaps the `..data`
 * symlink beside it; neither is seen by watching the file alone. Any event schedules
 * `onChange`, which re-reads the file and compares its hash, so unrelated files in the
 * directory cost one read.
 */
export interface ConfigWatcher {
  /** Resolves once the initial scan is done: changes from then on are seen. */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export function watchConfigFile(path: string, onChange: () => void, onError: (err: unknown) => void): ConfigWatcher {
  const dir = dirname(resolve(path));
  let timer: NodeJS.Timeout | null = null;
  const schedule = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      onChange();
    }, SETTLE_MS);
  };
  const watcher: FSWatcher = watch(dir, { ignoreInitial: true, depth: 0, followSymlinks: false });
  watcher.on('all', schedule);
  watcher.on('error', onError);
  const ready = new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  return {
    ready,
    async close() {
      if (timer) clearTimeout(timer);
      await watcher.close();
    },
  };
}
