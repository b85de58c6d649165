/**
 * A compiled pipeline as a Mermaid flowchart (GitHub renders it in a PR comment):
 * requests → each router (how it is selected) → its stages in order → its strategy →
 * the upstreams its targets call, with each target's order and model on the edge.
 */
import type { Pipeline } from '../pipeline/compiled.js';
import { CONFIG_DEFAULTS } from '../config/defaults.js';

export interface MermaidOptions {
  /** Routers drawn highlighted (changed or added by a diff). */
  readonly highlight?: ReadonlySet<string>;
}

/** A label Mermaid reads as text whatever it holds. */
function label(text: string): string {
  return `"${text.replace(/"/g, '#quot;').replace(/[<>]/g, (c) => (c === '<' ? '#lt;' : '#gt;'))}"`;
}

export function pipelineMermaid(pipeline: Pipeline, options: MermaidOptions = {}): string {
  const config = pipeline.loaded.config;
  const lines = ['flowchart LR', `  request(["request"])`];
  const upstreamIds = new Map([...pipeline.upstreams.keys()].map((name, i) => [name, `u${i}`]));
  const highlighted: string[] = [];
  [...pipeline.routers.values()].forEach((router, r) => {
    const id = `r${r}`;
    const selectors = [router.name, ...router.aliases].join(', ');
    const isDefault = pipeline.defaultRouter === router;
    lines.push(`  request -->|${label(`model: ${selectors}${isDefault ? ' or any other (default)' : ''}`)}| ${id}_in`);
    lines.push(`  subgraph ${id}[${label(`router ${router.name}`)}]`, '    direction LR');
    const chain = [`${id}_in(${label(`/router/${router.name}/v1`)})`];
    router.stages.forEach((stage, s) => chain.push(`${id}_s${s}[${label(stage.name)}]`));
    const strategy = config.routers[router.name]?.strategy ?? CONFIG_DEFAULTS.strategy;
    chain.push(`${id}_pick{${label(strategy)}}`);
    lines.push(`    ${chain.join(' --> ')}`, '  end');
    router.targets.forEach((target, t) => {
      const model = target.model === null ? '' : ` · ${target.model}`;
      lines.push(`  ${id}_pick -->|${label(`${t + 1}${model}`)}| ${upstreamIds.get(target.upstream.name)}`);
    });
    if (options.highlight?.has(router.name)) highlighted.push(id);
  });
  // URLs as /config shows them: a password, or a URL from the environment, is redacted.
  const shown = (pipeline.loaded.redacted as { upstreams: Record<string, { url?: string }> }).upstreams;
  for (const [name, id] of upstreamIds) {
    const upstream = config.upstreams[name]!;
    const where = upstream.provider === 'mock' ? 'in process' : (shown[name]?.url ?? '');
    lines.push(`  ${id}[(${label(`${name} · ${upstream.provider}${where ? ` · ${where}` : ''}`)})]`);
  }
  if (highlighted.length) {
    lines.push('  classDef changed stroke:#d4a72c,stroke-width:3px', `  class ${highlighted.join(',')} changed`);
  }
  return lines.join('\n');
}
