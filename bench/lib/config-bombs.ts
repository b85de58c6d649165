/**
 * Config files built to stall or exhaust the gateway (issue rows: alias bombs, a file over
 * the size limit). The hostile tests check that `validate` and a running gateway reject
 * them; the bench saves them over a live 10,000-router config during the stall measurement,
 * so the slowest request it reports covers their reloads too. Each takes the config it is
 * appended to (a valid one), so only the bomb makes it fail.
 */

/** Billion laughs: 9 lists of 9 aliases of the level below, 9 levels deep (9^9 values). */
export function billionLaughs(base: string): string {
  const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i <= 8; i++) lines.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(',')}]`);
  return `${base}x-bomb:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}

/** The same fan-out through `<<` merge keys and maps. */
export function mergeKeyBomb(base: string): string {
  const lines = ['m0: &m0 { a: lol, b: lol, c: lol, d: lol, e: lol, f: lol, g: lol, h: lol, i: lol }'];
  for (let i = 1; i <= 8; i++) {
    lines.push(`m${i}: &m${i} { ${'abcdefghi'.split('').map((k) => `${k}: *m${i - 1}`).join(', ')}, "<<": *m${i - 1} }`);
  }
  return `${base}x-bomb:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}

/** The config padded with a comment to `bytes` (past the 4 MB file limit when asked). */
export function padded(base: string, bytes: number): string {
  return `${base}# ${'x'.repeat(Math.max(0, bytes - base.length - 3))}\n`;
}
