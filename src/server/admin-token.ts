import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether `Authorization: Bearer <token>` carries the token whose sha256 is `expected`
 * (null: no token is required). Both sides are compared as digests in constant time, so
 * neither the token's length nor its prefix leaks through timing.
 */
export function tokenMatches(expected: Buffer | null, authorization: string | undefined): boolean {
  if (expected === null) return true;
  if (authorization === undefined || authorization.length > 4096) return false;
  const space = authorization.indexOf(' ');
  if (space < 0 || authorization.slice(0, space).toLowerCase() !== 'bearer') return false;
  const given = createHash('sha256').update(authorization.slice(space + 1).trim()).digest();
  return timingSafeEqual(given, expected);
}
