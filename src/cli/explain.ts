/** `sidegate explain [--format text|mermaid] [--no-env] FILE`: each router's compiled pipeline. */
import { closePipeline, explainPipeline } from '../pipeline/compile.js';
import { pipelineMermaid } from '../review/mermaid.js';
import { compileOffline } from '../review/offline.js';
import { choice, loadSpec, write } from './common.js';

export const EXPLAIN_FORMATS = ['text', 'mermaid'] as const;

export async function explainCommand(file: string, options: { format?: string | undefined; noEnv: boolean }): Promise<number> {
  const format = choice('format', options.format, EXPLAIN_FORMATS, 'text');
  const pipeline = await compileOffline(loadSpec(file, { noEnv: options.noEnv }));
  try {
    write(format === 'mermaid' ? pipelineMermaid(pipeline) : explainPipeline(pipeline));
  } finally {
    await closePipeline(pipeline);
  }
  return 0;
}
