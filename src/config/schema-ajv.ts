/**
 * The ajv instance every gateway schema validator is made with, the precompiled one
 * (`npm run schema`) and the verbose one (an invalid config) alike. Its own file, so the
 * generator of precompiled-validator.ts does not import the code that uses its output.
 */
import { createRequire } from 'node:module';
import type { Ajv2020, KeywordCxt, Options } from 'ajv/dist/2020.js';
import { KIND_KEYWORD, REGEX_KEYWORD, SECRET_KEYWORD } from './schema-keywords.js';
import { rangeKeyword } from './ranges.js';

/**
 * The options and keywords of every gateway schema validator, the precompiled one and the
 * verbose one alike: `x-secret` is generated code that records the value's instance path
 * into the validation's context (`this.secrets`), so it works in standalone code too.
 */
export function newAjv(options: Options = {}): Ajv2020 {
  // ajv's compiler is loaded only here (it is CommonJS, so synchronously): a valid config never needs it.
  const require = createRequire(import.meta.url);
  const { Ajv2020, _, stringify } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  const names = (require('ajv/dist/compile/names.js') as typeof import('ajv/dist/compile/names.js')).default;
  const instance = new Ajv2020({ allErrors: true, strict: true, passContext: true, ...options });
  instance.addKeyword({
    keyword: SECRET_KEYWORD,
    schemaType: 'boolean',
    code(cxt: KeywordCxt) {
      if (cxt.schema === true) cxt.gen.code(_`${names.this}.secrets.push(${names.instancePath} + ${cxt.it.errorPath})`);
    },
  });
  instance.addKeyword({ keyword: KIND_KEYWORD, schemaType: 'string' });
  instance.addKeyword({
    keyword: REGEX_KEYWORD,
    type: 'string',
    schemaType: 'boolean',
    error: { message: 'is not a valid JavaScript regular expression' },
    code(cxt: KeywordCxt) {
      if (cxt.schema !== true) return;
      const valid = cxt.gen.let('valid', true);
      cxt.gen.try(
        () => cxt.gen.code(_`new RegExp(${cxt.data})`),
        () => cxt.gen.assign(valid, false),
      );
      cxt.pass(valid);
    },
  });
  instance.addKeyword(rangeKeyword(_ as never, stringify));
  return instance;
}

