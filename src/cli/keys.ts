/**
 * `sidegate keys new NAME [--team T]`: a fresh gateway key (stdout's first line, shown
 * once) and the `auth.keys` line to paste (its second line); guidance goes to stderr.
 * `sidegate keys hash`: the sha256 of a key read from stdin.
 */
import { hashStdin, newKey } from '../tenancy/keys-command.js';
import { UsageError, write, writeErr } from './common.js';

export async function keysCommand([action, name, ...rest]: readonly string[], team: string | undefined): Promise<number> {
  if (action === 'hash' && name === undefined) {
    write(await hashStdin(process.stdin));
    return 0;
  }
  if (action !== 'new' || name === undefined || rest.length > 0) throw new UsageError('sidegate keys: new NAME [--team T], or hash');
  let created;
  try {
    created = newKey(name, team);
  } catch (err) {
    throw new UsageError(`sidegate keys new: ${(err as Error).message}`);
  }
  writeErr('The key (shown once: give it to the app, e.g. as its OPENAI_API_KEY; the gateway keeps only its hash):');
  write(created.key);
  writeErr('The line to paste under auth.keys (or into the keys file):');
  write(created.yaml);
  return 0;
}
