import type { InterceptorModule } from '../features/feature.js';
import type { PromptVariable } from '../config/types.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Stage } from '../pipeline/stage.js';
import { GatewayError } from '../errors.js';
import { parseTemplate } from '../util/template.js';

export interface PromptInterceptorConfig {
  name: string;
  variables?: Record<string, PromptVariable>;
}

/** The longest value a request may give a variable, chars. */
const MAX_VALUE = 10_000;

/** One piece of the rendered text: a literal, or a value read from each request. */
type Piece = string | ((ctx: RequestContext) => string);

function headerValue(name: string, prompt: string, variable: string): (ctx: RequestContext) => string {
  const header = name.toLowerCase();
  return (ctx) => {
    const raw = ctx.req.headers[header];
    const value = Array.isArray(raw) ? raw.join(', ') : raw;
    if (value === undefined || value === '') throw missing(prompt, variable, `header ${header}`);
    return value;
  };
}

function bodyValue(field: string, prompt: string, variable: string): (ctx: RequestContext) => string {
  const path = field.split('.');
  return (ctx) => {
    let at: unknown = ctx.body;
    for (const key of path) at = at !== null && typeof at === 'object' && !Array.isArray(at) ? (at as Record<string, unknown>)[key] : undefined;
    if (typeof at === 'number' && Number.isFinite(at)) return String(at);
    if (typeof at !== 'string' || at === '') throw missing(prompt, variable, `body field ${field}`);
    if (at.length > MAX_VALUE) throw new GatewayError('invalid_request', `The prompt "${prompt}" variable "${variable}" (body field ${field}) is longer than ${MAX_VALUE} characters.`, { param: field });
    return at;
  };
}

function missing(prompt: string, variable: string, source: string): GatewayError {
  return new GatewayError('invalid_request', `The prompt "${prompt}" needs the variable "${variable}" from the ${source}, and the request has none.`, {
    param: source.startsWith('body') ? source.slice('body field '.length) : null,
  });
}

/**
 * `prompt`: puts a template of `prompts:` first among the request's system instructions.
 * The template is split once; literal variables are filled in at compile time, header and
 * body variables on each request.
 */
class PromptStage implements Stage {
  readonly name = 'prompt';
  /** The whole text when no variable comes from the request. */
  private readonly fixed: string | null;

  constructor(private readonly pieces: readonly Piece[]) {
    this.fixed = pieces.every((p) => typeof p === 'string') ? pieces.join('') : null;
  }

  onRequest(ctx: RequestContext): void {
    if (ctx.body === undefined) return;
    const text = this.fixed ?? this.pieces.map((p) => (typeof p === 'string' ? p : p(ctx))).join('');
    if (ctx.format.addSystemText(ctx.body, text)) ctx.markBodyChanged();
  }
}

export const prompt: InterceptorModule<PromptInterceptorConfig> = {
  name: 'prompt',
  describe(config) {
    const own = config.variables ? Object.keys(config.variables) : [];
    return `system prompt "${config.name}" first${own.length ? ` (variables: ${own.join(', ')})` : ''}`;
  },
  schema: {
    description:
      'Puts a template of the top-level `prompts:` first among the request\'s system instructions (a system message for chat ' +
      'completions, `instructions` for the Responses API, `system` for Anthropic Messages). Requests with no place for one ' +
      '(embeddings…) pass unchanged.',
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { $ref: '#/$defs/name', description: 'The template\'s name under `prompts:`.' },
      variables: { $ref: '#/$defs/prompt_variables', description: 'Variables for this router, over the template\'s own.' },
    },
  },
  create(config, deps) {
    const template = deps.prompts[config.name];
    if (!template) throw new Error(`prompt: no prompt "${config.name}" under prompts`);
    const variables = { ...template.variables, ...config.variables };
    const pieces = parseTemplate(template.template).map((part): Piece => {
      if (typeof part === 'string') return part;
      const v = variables[part.variable];
      if (v === undefined) throw new Error(`prompt "${config.name}": no value for {{${part.variable}}}`);
      if (typeof v === 'string') return v;
      return 'header' in v ? headerValue(v.header, config.name, part.variable) : bodyValue(v.body, config.name, part.variable);
    });
    return new PromptStage(pieces);
  },
};
