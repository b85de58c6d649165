/** `sidegate diff [--format text|markdown] [--no-env] OLD NEW`: what changes between two compiled pipelines. */
import { closePipeline } from '../pipeline/compile.js';
import type { Pipeline } from '../pipeline/compiled.js';
import { describePipeline } from '../review/describe.js';
import { diffModels, formatDiff, formatDiffMarkdown } from '../review/diff.js';
import { pipelineMermaid } from '../review/mermaid.js';
import { compileOffline } from '../review/offline.js';
import { choice, loadSpec, UsageError, write } from './common.js';

export const DIFF_FORMATS = ['text', 'markdown'] as const;

export async function diffCommand(files: readonly string[], options: { format?: string | undefined; noEnv: boolean }): Promise<number> {
  const format = choice('format', options.format, DIFF_FORMATS, 'text');
  if (files.length !== 2) throw new UsageError('sidegate diff: name two configs, OLD and NEW (a file, or git:REF:path)');
  const [from, to] = files as [string, string];
  const pipelines: Pipeline[] = [];
  try {
    for (const spec of files) pipelines.push(await compileOffline(loadSpec(spec, { noEnv: options.noEnv })));
    const [before, after] = pipelines as [Pipeline, Pipeline];
    const sections = diffModels(describePipeline(before), describePipeline(after));
    if (format === 'markdown') {
      const touched = new Set(sections.filter((s) => s.id.startsWith('routers') && s.kind !== 'removed').map((s) => s.title.slice('router '.length)));
      write(formatDiffMarkdown(sections, from, to, pipelineMermaid(after, { highlight: touched })));
    } else {
      write(formatDiff(sections, from, to));
    }
  } finally {
    await Promise.all(pipelines.map(closePipeline));
  }
  return 0;
}
