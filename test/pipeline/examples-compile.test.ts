import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { createGateway, explainPipeline } from '../../src/index.js';

const ENV = { OPENAI_API_KEY: 'sk-example', MCP_TOKEN: 'sk-example', ANTHROPIC_API_KEY: 'sk-example', AZURE_OPENAI_API_KEY: 'sk-example', HTTPS_PROXY: '', WEBHOOK_SECRET: 'whsec_c2lkZWdhdGUtZXhhbXBsZS1zZWNyZXQ=' };
const FILES = ['gateway.example.yaml', ...readdirSync('examples').filter((f) => /\.ya?ml$/.test(f)).map((f) => `examples/${f}`)];

test('every example compiles into a pipeline that explain can print', async () => {
  assert.ok(FILES.length >= 4);
  for (const file of FILES) {
    const gateway = await createGateway(file, { watch: false, env: ENV });
    try {
      const pipeline = gateway.pipeline;
      assert.ok(pipeline.routers.size >= 1, file);
      const text = explainPipeline(pipeline);
      for (const name of pipeline.routers.keys()) assert.match(text, new RegExp(`router ${name}`), file);
      assert.ok(!text.includes('sk-example'), `${file}: explain prints no secret`);
    } finally {
      await gateway.close({ drainMs: 0 });
    }
  }
});
