/** `sidegate start [-c FILE] [--no-watch]`: run the gateway until SIGTERM or SIGINT; SIGHUP reloads. */
import { ConfigError } from '../config/load.js';
import { createGateway } from '../gateway.js';
import { flushLogger } from '../observability/logger.js';
import { writeErr } from './common.js';

export async function startCommand(file: string, watch: boolean): Promise<number | null> {
  let gateway;
  try {
    gateway = await createGateway(file, { watch });
  } catch (err) {
    if (err instanceof ConfigError) {
      writeErr(`${file}: invalid config\n${err.message}`);
      return 1;
    }
    throw err;
  }
  try {
    await gateway.listen();
  } catch (err) {
    // A port taken (another sidegate, a leftover process): say which and stop, instead of
    // leaving a process that holds its config watcher and pools but serves nothing.
    writeErr(`sidegate: ${(err as Error).message}`);
    await gateway.close({ drainMs: 0 });
    await flushLogger(gateway.logger);
    return 1;
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      gateway.logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    gateway.logger.info({ signal }, 'shutting down');
    gateway.close().then(
      () => flushLogger(gateway.logger).then(() => process.exit(0)),
      (err: unknown) => {
        gateway.logger.error({ err }, 'shutdown failed');
        void flushLogger(gateway.logger).then(() => process.exit(1));
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => void gateway.reload().catch(() => {}));
  return null; // keeps running
}
