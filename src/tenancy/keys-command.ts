/**
 * Gateway keys for `sidegate keys`: a fresh key and the `auth.keys` entry to paste (only
 * its sha256 is ever stored), or the hash of an existing key.
 */
import { randomBytes } from 'node:crypto';
import { NAME_PATTERN } from '../config/defaults.js';
import { hashKey } from './key-table.js';

/** What a new key starts with, so secret scanners and people recognize it. */
const KEY_PREFIX = 'sk-sg-';
/** A key read from stdin is at most this long. */
const MAX_STDIN = 64 * 1024;

export interface NewKey {
  /** The key: shown once, never stored by the gateway. */
  readonly key: string;
  /** The `auth.keys` list item, as one YAML line. */
  readonly yaml: string;
}

/** A fresh random key (256 bits) and its `auth.keys` line; throws on a name that is not a valid name. */
export function newKey(name: string, team?: string): NewKey {
  const valid = new RegExp(NAME_PATTERN);
  if (!valid.test(name)) throw new Error(`"${name}" is not a valid key name: letters, digits, _ . - (starting with a letter or digit)`);
  if (team !== undefined && !valid.test(team)) throw new Error(`"${team}" is not a valid team name: letters, digits, _ . - (starting with a letter or digit)`);
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  const yaml = `- { name: ${name}, sha256: "${hashKey(key)}"${team === undefined ? '' : `, team: ${team}`} }`;
  return { key, yaml };
}

/** Reads a key from stdin (one trailing newline dropped) and returns its sha256 hex. */
export async function hashStdin(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > MAX_STDIN) throw new Error(`the key on stdin is longer than ${MAX_STDIN} bytes`);
    chunks.push(buf);
  }
  const key = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (key.length === 0) throw new Error('no key on stdin (e.g. printf %s "$KEY" | sidegate keys hash)');
  return hashKey(key);
}
