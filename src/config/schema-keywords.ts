/** Annotation keywords of our own; validate.ts registers them with ajv so strict mode accepts them. */
export const SECRET_KEYWORD = 'x-secret';
/** On an object schema: what its keys are called in "unknown … "x"" messages (`feature`, `interceptor`). */
export const KIND_KEYWORD = 'x-kind';
/** On a string schema: the value must be a valid JavaScript regular expression (checked at load time, with line:col). */
export const REGEX_KEYWORD = 'x-regex';
