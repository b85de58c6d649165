import { GatewayError } from '../errors.js';

/** A request field the other API cannot express: a clear 400 in the caller's format, naming the field. */
export function refuse(param: string, message: string): never {
  throw new GatewayError('invalid_request', message, { param });
}
