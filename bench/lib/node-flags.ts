import { readFileSync } from 'node:fs';

/** The Node flags on the first line of the CLI (`#!/usr/bin/env -S node <flags>`): what it ships with. */
export function shippedNodeFlags(cli: string): string[] {
  const first = readFileSync(cli, 'utf8').split('\n', 1)[0]!;
  const match = /^#!\/usr\/bin\/env -S node((?: --[\w-]+(?:=\S+)?)*)$/.exec(first);
  if (!match) throw new Error(`${cli}: its first line is not "#!/usr/bin/env -S node <flags>"`);
  return match[1]!.trim().split(' ').filter(Boolean);
}
