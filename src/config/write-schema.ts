/**
 * Writes schemas/gateway.schema.json from gatewaySchema() (2-space JSON, trailing newline).
 *   npm run schema            write it
 *   npm run schema -- --check exit 1 when the committed file is stale (for CI)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gatewaySchema } from './schema.js';

const SCHEMA_FILE = fileURLToPath(new URL('../../schemas/gateway.schema.json', import.meta.url));

function schemaText(): string {
  return `${JSON.stringify(gatewaySchema(), null, 2)}\n`;
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
