import type { ApiFormat } from '../formats/format.js';
import type { Json } from '../formats/conversation.js';
import type { McpConnection, McpTool } from './connection.js';
import { toolDefinition } from './tool-turns.js';

/** One MCP tool a router offers: the name the model sees, and where it runs. */
export interface CatalogEntry {
  readonly exposed: string;
  readonly connection: McpConnection;
  readonly tool: McpTool;
}

/** The tools of a router's servers that its allow/deny lists let through, by the name the model sees. */
export interface Catalog {
  readonly byName: ReadonlyMap<string, CatalogEntry>;
  /** The `tools` entries in each caller format, built once per tool-list change. */
  readonly definitions: Readonly<Record<ApiFormat, readonly Json[]>>;
}

/** A glob (`*` matches anything) as a regex, built at compile time. */
export function globPattern(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/** Tool names as OpenAI accepts them (`^[A-Za-z0-9_-]{1,64}$`). */
function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
}

/**
 * Which of a router's MCP tools the model may call: a tool passes when it matches `allow`
 * (default: every tool) and no `deny` entry (deny wins). An entry matches the tool's name
 * or `SERVER/TOOL`.
 */
export class ToolFilter {
  private readonly allow: readonly RegExp[] | null;
  private readonly deny: readonly RegExp[];

  constructor(allow: readonly string[] | undefined, deny: readonly string[] | undefined) {
    this.allow = allow ? allow.map(globPattern) : null;
    this.deny = (deny ?? []).map(globPattern);
  }

  passes(server: string, tool: string): boolean {
    const matches = (re: RegExp): boolean => re.test(tool) || re.test(`${server}/${tool}`);
    if (this.allow !== null && !this.allow.some(matches)) return false;
    return !this.deny.some(matches);
  }
}

/**
 * The catalog of the connections' current tool lists: a tool whose name two servers share
 * is offered as `SERVER__TOOL` by both, any other under its own name.
 */
export function buildCatalog(connections: readonly McpConnection[], filter: ToolFilter): Catalog {
  const chosen: { connection: McpConnection; tool: McpTool }[] = [];
  const seen = new Map<string, number>();
  for (const connection of connections) {
    for (const tool of connection.tools) {
      if (!filter.passes(connection.name, tool.name)) continue;
      chosen.push({ connection, tool });
      seen.set(tool.name, (seen.get(tool.name) ?? 0) + 1);
    }
  }
  const byName = new Map<string, CatalogEntry>();
  for (const { connection, tool } of chosen) {
    const exposed = safeName((seen.get(tool.name) ?? 0) > 1 ? `${connection.name}__${tool.name}` : tool.name);
    if (!byName.has(exposed)) byName.set(exposed, Object.freeze({ exposed, connection, tool }));
  }
  const entries = [...byName.values()];
  const offered = (format: ApiFormat): Json[] =>
    entries.map((e) => toolDefinition(format, { name: e.exposed, description: e.tool.description, inputSchema: e.tool.inputSchema }));
  return Object.freeze({ byName, definitions: Object.freeze({ openai: offered('openai'), anthropic: offered('anthropic') }) });
}
