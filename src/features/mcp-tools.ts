import { PassThrough, Readable } from 'node:stream';
import { GatewayError } from '../errors.js';
import { messagesOf, type Json } from '../formats/conversation.js';
import { buildCatalog, ToolFilter, type Catalog } from '../mcp/catalog.js';
import type { McpConnection } from '../mcp/connection.js';
import type { McpServers } from '../mcp/servers.js';
import { runTools } from '../mcp/run-tools.js';
import { StreamStitch } from '../mcp/stream-rounds.js';
import { addUsage, answerCalls, answerTurn, appendRound, callerToolNames, NO_USAGE, stripCalls, writeUsage } from '../mcp/tool-turns.js';
import { standardSignal } from '../pipeline/abort.js';
import type { RequestContext } from '../pipeline/context.js';
import { slot } from '../pipeline/slot.js';
import type { Attempt, SseEvent, Stage, UpstreamCall } from '../pipeline/stage.js';
import type { UpstreamResponse } from '../providers/provider.js';
import { headerValue } from '../upstream/headers.js';
import { EventSplitter, parseEvents } from '../upstream/sse.js';
import { TailBuffer, usageOf, type Usage } from '../upstream/usage.js';
import { drained } from '../util/drained.js';
import { readAll } from './answer-check.js';
import type { FeatureModule } from './feature.js';
import { ORDER } from './feature.js';

export interface McpToolsConfig {
  servers: string[];
  max_rounds?: number;
  allow?: string[];
  deny?: string[];
}

const DEFAULTS = { max_rounds: 5 } as const;
const LIMIT_HEADER = 'x-sidegate-mcp-tools';
const ROUNDS_HEADER = 'x-sidegate-mcp-rounds';
/** The SSE comment a stream carries when the last round still called MCP tools (its head has left by then). */
const LIMIT_COMMENT = Buffer.from(`: ${LIMIT_HEADER}: max_rounds\n\n`);
/** How long a request waits for servers still making their first connection (after a start or reload). */
const FIRST_CONNECT_WAIT_MS = 2_000;

/** What this request offers: the catalog it was given and the caller's own tool names (set once, kept across repair tries). */
interface Offer {
  readonly catalog: Catalog;
  readonly callerTools: ReadonlySet<string>;
}
const OFFER = slot<Offer>('mcp_tools_offer');

function isSse(response: UpstreamResponse): boolean {
  return (headerValue(response.headers['content-type']) ?? '').startsWith('text/event-stream');
}

function ok(response: UpstreamResponse): boolean {
  return response.status >= 200 && response.status < 300;
}

function usageOfBytes(ctx: RequestContext, bytes: Buffer): Usage {
  const tail = new TailBuffer();
  tail.push(bytes);
  return usageOf(ctx.format.name, tail);
}

function withoutLength(headers: UpstreamResponse['headers'], extra: Record<string, string>): UpstreamResponse['headers'] {
  const out = { ...headers, ...extra };
  delete out['content-length'];
  return out;
}

class McpToolsStage implements Stage {
  readonly name = 'mcp_tools';
  private catalog: Catalog | null = null;
  private catalogVersion = -1;
  private readonly counts = { requests: 0, rounds: 0, tool_calls: 0, limit_reached: 0 };

  constructor(
    private readonly servers: McpServers,
    private readonly connections: readonly McpConnection[],
    private readonly filter: ToolFilter,
    private readonly maxRounds: number,
  ) {}

  /** The catalog of the servers' current tool lists, rebuilt only when one of them changed. */
  private current(): Catalog {
    let version = 0;
    for (const c of this.connections) version += c.version;
    if (this.catalog === null || version !== this.catalogVersion) {
      this.catalog = buildCatalog(this.connections, this.filter);
      this.catalogVersion = version;
    }
    return this.catalog;
  }

  /** Waits (bounded) for servers still on their first connection attempt, so the first requests after a start get their tools. */
  private async firstConnections(): Promise<void> {
    const pending = this.connections.filter((c) => c.firstPending);
    if (pending.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(pending.map((c) => c.firstAttempt)), new Promise<void>((resolve) => (timer = setTimeout(resolve, FIRST_CONNECT_WAIT_MS)))]);
    clearTimeout(timer);
  }

  /** Adds the MCP tools to the request (once per request); null when there is none to offer. */
  private async offer(ctx: RequestContext, body: Json): Promise<Offer | null> {
    const given = ctx.get(OFFER);
    if (given) return given;
    await this.firstConnections();
    const catalog = this.current();
    if (catalog.byName.size === 0) return null;
    const callerTools = callerToolNames(ctx.format.name, body);
    const definitions = catalog.definitions[ctx.format.name];
    // A caller's tool of the same name shadows the MCP one: its calls go to the caller.
    const added = callerTools.size === 0 ? definitions : definitions.filter((d) => !callerTools.has(String(ctx.format.name === 'openai' ? (d.function as Json).name : d.name)));
    if (added.length === 0) return null;
    body.tools = [...(Array.isArray(body.tools) ? body.tools : []), ...added];
    ctx.markBodyChanged();
    const offer: Offer = { catalog, callerTools };
    ctx.set(OFFER, offer);
    this.counts.requests++;
    return offer;
  }

  wrapCall(next: UpstreamCall): UpstreamCall {
    return async (ctx, attempt) => {
      const body = ctx.body;
      if (body === undefined || messagesOf(body) === null) return next(ctx, attempt);
      const offer = await this.offer(ctx, body);
      if (offer === null) return next(ctx, attempt);
      const isMcp = (name: string): boolean => offer.catalog.byName.has(name) && !offer.callerTools.has(name);
      return ctx.stream ? this.streamed(ctx, attempt, next, body, offer, isMcp) : this.whole(ctx, attempt, next, body, offer, isMcp);
    };
  }

  private finish(ctx: RequestContext, rounds: number, calls: number, limit: boolean): void {
    this.counts.rounds += rounds;
    this.counts.tool_calls += calls;
    if (limit) this.counts.limit_reached++;
    ctx.note('mcp_tools', { rounds, tool_calls: calls, ...(limit && { limit: 'max_rounds' }) });
  }

  /** Non-streamed: each round's answer is read whole; the last one is returned, its usage the sum of all rounds. */
  private async whole(ctx: RequestContext, attempt: Attempt, next: UpstreamCall, body: Json, offer: Offer, isMcp: (name: string) => boolean): Promise<UpstreamResponse> {
    const format = ctx.format.name;
    let total = NO_USAGE;
    let calls = 0;
    for (let round = 1; ; round++) {
      const response = await next(ctx, attempt);
      if (!ok(response) || isSse(response)) {
        this.finish(ctx, round, calls, false);
        return response;
      }
      const bytes = await readAll(response, response.target?.upstream.name ?? 'upstream');
      let answer: unknown;
      try {
        answer = JSON.parse(bytes.toString('utf8'));
      } catch {
        answer = null;
      }
      if (typeof answer !== 'object' || answer === null) {
        this.finish(ctx, round, calls, false);
        return { ...response, body: Readable.from([bytes]) };
      }
      const json = answer as Json;
      const made = answerCalls(format, json);
      const mcp = made.filter((c) => isMcp(c.name));
      const callerCalls = made.length - mcp.length;
      const usage = usageOfBytes(ctx, bytes);
      if (mcp.length === 0 || callerCalls > 0 || round >= this.maxRounds || attempt.signal.aborted) {
        const limit = mcp.length > 0 && callerCalls === 0;
        if (mcp.length > 0) stripCalls(format, json, new Set(mcp.map((c) => c.name)));
        if (round > 1 && typeof json.usage === 'object' && json.usage !== null) writeUsage(format, json.usage as Json, addUsage(total, usage));
        const out = mcp.length > 0 || round > 1 ? Buffer.from(JSON.stringify(json)) : bytes;
        this.finish(ctx, round, calls, limit);
        const headers: Record<string, string> = { [ROUNDS_HEADER]: String(round), 'content-length': String(out.length) };
        if (limit) headers[LIMIT_HEADER] = 'max_rounds';
        return { ...response, headers: { ...response.headers, ...headers }, body: Readable.from([out]) };
      }
      total = addUsage(total, usage);
      calls += mcp.length;
      const results = await runTools(offer.catalog, mcp, standardSignal(attempt.signal));
      appendRound(format, body, answerTurn(format, json), results);
      ctx.markBodyChanged();
    }
  }

  /**
   * Streamed: every round is streamed from the upstream and stitched into one stream for
   * the client (see src/mcp/stream-rounds.ts): text flows as it comes, MCP tool calls and
   * every round's end but the last are held back. The response resolves when the first
   * event is ready for the client, so a first round that fails still gets a proper status.
   */
  private streamed(ctx: RequestContext, attempt: Attempt, next: UpstreamCall, body: Json, offer: Offer, isMcp: (name: string) => boolean): Promise<UpstreamResponse> {
    const format = ctx.format.name;
    const out = new PassThrough();
    out.on('error', () => {}); // a failure is the reader's to report (an SSE error event); none may go unheard
    const stitch = new StreamStitch(format);
    return new Promise<UpstreamResponse>((resolve, reject) => {
      let opened = false;
      let current: UpstreamResponse | null = null;
      const open = (): void => {
        if (opened || current === null) return;
        opened = true;
        resolve({ ...current, headers: withoutLength(current.headers, {}), body: out });
      };
      const send = async (events: readonly SseEvent[] | Buffer): Promise<void> => {
        const bytes = Buffer.isBuffer(events) ? events : Buffer.concat(events.map((e) => e.raw));
        if (bytes.length === 0 || out.destroyed) return;
        open();
        if (!out.write(bytes)) await drained(out);
      };
      const run = async (): Promise<void> => {
        let total = NO_USAGE;
        let calls = 0;
        for (let round = 1; ; round++) {
          const response = await next(ctx, attempt);
          if (!ok(response) || !isSse(response)) {
            this.finish(ctx, round, calls, false);
            if (!opened) return resolve(response);
            response.body.destroy();
            throw new GatewayError('upstream_error', `round ${round} of the MCP tool loop was answered with status ${response.status}`);
          }
          current = response;
          const reader = stitch.round(isMcp);
          const tail = new TailBuffer();
          const splitter = new EventSplitter();
          const take = async (whole: Buffer): Promise<void> => {
            tail.push(whole);
            const events: SseEvent[] = [];
            for (const event of parseEvents(whole)) events.push(...reader.push(event));
            await send(events);
          };
          for await (const chunk of response.body as AsyncIterable<Buffer>) {
            const whole = splitter.push(chunk);
            if (whole !== null) await take(whole);
            if (out.destroyed) return void response.body.destroy();
          }
          const rest = splitter.rest();
          if (rest) await take(rest);
          const usage = usageOf(format, tail);
          const mcp = reader.mcpCalls;
          if (mcp.length === 0 || reader.callerCalls > 0 || round >= this.maxRounds || attempt.signal.aborted) {
            const limit = mcp.length > 0 && reader.callerCalls === 0;
            if (limit) await send(LIMIT_COMMENT);
            await send(reader.release(round > 1 ? addUsage(total, usage) : null));
            this.finish(ctx, round, calls, limit);
            open();
            out.end();
            return;
          }
          total = addUsage(total, usage);
          calls += mcp.length;
          const results = await runTools(offer.catalog, mcp, standardSignal(attempt.signal));
          appendRound(format, body, reader.turn(), results);
          ctx.markBodyChanged();
        }
      };
      run().catch((err: unknown) => {
        if (!opened) reject(err);
        else out.destroy(err instanceof Error ? err : new Error(String(err)));
      });
    });
  }

  stats(): Record<string, unknown> {
    return { ...this.counts, servers: Object.fromEntries(this.connections.map((c) => [c.name, c.snapshot()])) };
  }

  close(): Promise<void> {
    return this.servers.close();
  }
}

/**
 * `mcp_tools`: the router's requests get the tools of the named MCP servers (`mcp_servers:`),
 * and the gateway runs the model's calls to them: it calls the model, runs the MCP tools
 * the answer asks for, appends the call and the results in the caller's format, and calls
 * again, up to `max_rounds` model calls. Calls to the caller's own tools end the loop and
 * go back to the caller, as usual. It sits outside fallback, hedging and retry
 * (STAGE_ORDER.mcp_tools), so each round's model call gets them.
 */
export const mcpTools: FeatureModule<McpToolsConfig> = {
  name: 'mcp_tools',
  order: ORDER.mcp_tools,
  describe(c) {
    const lists = [c.allow ? `allow ${c.allow.join(', ')}` : '', c.deny ? `deny ${c.deny.join(', ')}` : ''].filter(Boolean).join('; ');
    return `offers the tools of MCP servers ${c.servers.join(', ')}${lists ? ` (${lists})` : ''} and runs the model's calls to them, up to ${c.max_rounds ?? DEFAULTS.max_rounds} model calls per request`;
  },
  schema: {
    description:
      "Lets the model call tools of MCP servers (`mcp_servers:`): the gateway adds the servers' tools to each chat request, runs the calls " +
      "the model makes to them and calls the model again with the results, then returns (or streams) the final answer. Calls to the caller's " +
      'own tools are returned to the caller as usual; an answer calling both goes to the caller with only its own calls. The usage of every ' +
      "round is added up in the answer's `usage`, so budgets and rate limits count it.",
    type: 'object',
    additionalProperties: false,
    required: ['servers'],
    properties: {
      servers: {
        description: 'The MCP servers whose tools the model may call, by their name in `mcp_servers` (1–32).',
        type: 'array',
        minItems: 1,
        maxItems: 32,
        uniqueItems: true,
        items: { $ref: '#/$defs/name' },
      },
      max_rounds: {
        description:
          'The most model calls per request (1–20). Default 5. When the last one still calls MCP tools, it is returned without those calls, ' +
          `marked \`${LIMIT_HEADER}: max_rounds\` (a stream carries it as an SSE comment line before its end).`,
        type: 'integer',
        minimum: 1,
        maximum: 20,
        default: DEFAULTS.max_rounds,
      },
      allow: {
        description: 'Only these tools are offered (default: all): tool names or `SERVER/TOOL`, `*` matching any characters (at most 256 entries).',
        type: 'array',
        maxItems: 256,
        items: { type: 'string', minLength: 1, maxLength: 200 },
      },
      deny: {
        description: 'Tools never offered, even when `allow` lists them: tool names or `SERVER/TOOL`, `*` matching any characters (at most 256 entries).',
        type: 'array',
        maxItems: 256,
        items: { type: 'string', minLength: 1, maxLength: 200 },
      },
    },
  },
  create(config, deps) {
    const connections = config.servers.map((name) => deps.mcp.get(name));
    return new McpToolsStage(deps.mcp, connections, new ToolFilter(config.allow, config.deny), config.max_rounds ?? DEFAULTS.max_rounds);
  },
};
