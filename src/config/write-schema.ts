/**
 * Writes the files generated from the schema: schemas/gateway.schema.json (editorSchema():
 * the gateway's schema with `${VAR}` accepted wherever the editor sees a typed value; 2-space
 * JSON, trailing newline) and src/config/precompiled-validator.ts (ajv standalone code of
 * gatewaySchema(), the strict one the gateway validates with).
 *   npm run schema            write them
 *   npm run schema -- --check exit 1 when a committed file is stale (for CI)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { editorSchema } from './editor-schema.js';
import { precompiledValidatorSource } from './precompile.js';

const FILES: Array<[string, () => string]> = [
  [fileURLToPath(new URL('../../schemas/gateway.schema.json', import.meta.url)), () => `${JSON.stringify(editorSchema(), null, 2)}\n`],
  [fileURLToPath(new URL('./precompiled-validator.ts', import.meta.url)), precompiledValidatorSource],
];

let stale = false;
for (const [file, make] of FILES) {
  const text = make();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      // missing: stale
    }
    if (current === text) console.log(`${file} is up to date`);
    else {
      console.error(`${file} is stale: run npm run schema`);
      stale = true;
    }
  } else {
    writeFileSync(file, text);
    console.log(`wrote ${file}`);
  }
}
if (stale) process.exit(1);
