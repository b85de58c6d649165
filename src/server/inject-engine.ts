/**
 * The engine of injected requests (inject.ts), in its own module so that it is loaded only
 * by what injects: the features that send requests through the gateway import this module
 * beside their own (`import '../server/inject-engine.js'`), which loads it at compile time.
 */
export { inject as injectRequest } from 'light-my-request';
