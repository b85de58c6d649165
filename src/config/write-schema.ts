/**
 * Writes schemas/gateway.schema.json from editorSchema() (2-space JSON, trailing newline): the
 * gateway's schema, with `${VAR}` accepted wherever the editor sees a typed value.
 *   npm run schema            write it
 *   npm run schema -- --check exit 1 when the committed file is stale (for CI)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { editorSchema } from './editor-schema.js';

const SCHEMA_FILE = fileURLToPath(new URL('../../schemas/gateway.schema.json', import.meta.url));

function schemaText(): string {
  return `${JSON.stringify(editorSchema(), null, 2)}\n`;
}

const text = schemaText();
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(SCHEMA_FILE, 'utf8');
  } catch {
    // missing: stale
  }
  if (current !== text) {
    console.error(`${SCHEMA_FILE} is stale: run npm run schema`);
    process.exit(1);
  }
  console.log(`${SCHEMA_FILE} is up to date`);
} else {
  writeFileSync(SCHEMA_FILE, text);
  console.log(`wrote ${SCHEMA_FILE}`);
}
