import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { McpServerConfig } from '../config/types.js';
import { redactUrl } from '../config/redact.js';

/** The most tools kept of one server (a server listing more is cut, and it is logged). */
export const MAX_TOOLS_PER_SERVER = 128;
/** How long one connection attempt (handshake and tool list) may take. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Reconnect backoff: doubling from the first delay up to the last. */
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** How long a list_changed burst is gathered before the list is fetched again. */
const LIST_CHANGED_DEBOUNCE_MS = 50;
const CLIENT_INFO = { name: 'sidegate', version: '1' } as const;

/** The MCP SDK's client side (with zod), imported by the first connection: a config that names no MCP server never loads it. */
interface Sdk {
  readonly Client: typeof import('@modelcontextprotocol/sdk/client/index.js').Client;
  readonly stdio: typeof import('@modelcontextprotocol/sdk/client/stdio.js');
  readonly StreamableHTTPClientTransport: typeof import('@modelcontextprotocol/sdk/client/streamableHttp.js').StreamableHTTPClientTransport;
}
let sdk: Promise<Sdk> | undefined;

function loadSdk(): Promise<Sdk> {
  sdk ??= Promise.all([
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/client/stdio.js'),
    import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
  ]).then(([client, stdio, http]) => ({ Client: client.Client, stdio, StreamableHTTPClientTransport: http.StreamableHTTPClientTransport }));
  return sdk;
}

/** What one server offers, as the tool loop reads it. */
export interface McpTool {
  readonly name: string;
  readonly description: string;
  /** The tool's input JSON Schema (an object schema). */
  readonly inputSchema: Record<string, unknown>;
}

export type ConnectionState = 'connecting' | 'connected' | 'down' | 'closed';

function toolOf(tool: Tool): McpTool {
  // `$schema` names the server's draft; providers' strict tool modes refuse the keyword.
  const { $schema: _draft, ...inputSchema } = tool.inputSchema as Record<string, unknown>;
  return Object.freeze({ name: tool.name, description: tool.description ?? '', inputSchema });
}

/** An error's message without URL credentials (a server's URL may carry them). */
function safeMessage(err: unknown): string {
  return redactUrl(err instanceof Error ? err.message : String(err)).slice(0, 300);
}

/**
 * One MCP server as a pipeline sees it: an SDK client connected in the background (never
 * on the request path), its tool list cached and replaced on `notifications/tools/list_changed`,
 * and reconnected with backoff when it fails. While it is down it simply has no tools; the
 * first failure is logged at warn, the repeats at debug.
 */
export class McpConnection {
  state: ConnectionState = 'connecting';
  /** The server's tools (empty while it is down). */
  tools: readonly McpTool[] = [];
  /** Changes whenever `tools` does, so callers rebuild what they derive from it only then. */
  version = 0;
  /** Resolves once the first connection attempt has ended, whichever way. */
  readonly firstAttempt: Promise<void>;
  /** True until the first connection attempt has ended. */
  firstPending = true;
  private settleFirst!: () => void;
  private client: Client | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private stats = { connects: 0, failures: 0, calls: 0, call_errors: 0 };

  constructor(
    readonly name: string,
    private readonly config: McpServerConfig,
    private readonly logger: Logger,
  ) {
    this.firstAttempt = new Promise((resolve) => {
      this.settleFirst = () => {
        this.firstPending = false;
        resolve();
      };
    });
  }

  /** Starts connecting in the background. */
  start(): void {
    void this.connect();
  }

  private transport(sdk: Sdk): Transport {
    const c = this.config;
    if ('url' in c) return new sdk.StreamableHTTPClientTransport(new URL(c.url), { requestInit: { headers: { ...c.headers } } });
    return new sdk.stdio.StdioClientTransport({ command: c.command, args: c.args ?? [], env: { ...sdk.stdio.getDefaultEnvironment(), ...c.env }, stderr: 'ignore' });
  }

  private async connect(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'connecting';
    let mcp: Sdk;
    try {
      mcp = await loadSdk();
    } catch (err) {
      this.state = 'down';
      this.logger.error({ mcp_server: this.name, error: safeMessage(err) }, 'the MCP client could not be loaded');
      return this.settleFirst();
    }
    if (this.state !== 'connecting') return; // closed while the SDK loaded
    const client = new mcp.Client(CLIENT_INFO, {
      capabilities: {},
      listChanged: {
        tools: {
          debounceMs: LIST_CHANGED_DEBOUNCE_MS,
          onChanged: (error, tools) => {
            if (this.client !== client) return;
            if (error) this.logger.warn({ mcp_server: this.name, error: safeMessage(error) }, 'MCP tool list refresh failed');
            else if (tools) this.setTools(tools);
          },
        },
      },
    });
    this.client = client;
    client.onerror = () => {}; // transport hiccups surface as failed requests or a close
    client.onclose = () => {
      if (this.client === client && this.state === 'connected') this.failed(client, new Error('the connection closed'));
    };
    try {
      await client.connect(this.transport(mcp), { timeout: CONNECT_TIMEOUT_MS });
      const listed = await client.listTools(undefined, { timeout: CONNECT_TIMEOUT_MS });
      if (this.client !== client) return void client.close().catch(() => {});
      this.setTools(listed.tools);
      this.state = 'connected';
      this.stats.connects++;
      if (this.failures > 0) this.logger.info({ mcp_server: this.name, tools: this.tools.length }, 'MCP server reachable again');
      this.failures = 0;
    } catch (err) {
      this.failed(client, err);
    } finally {
      this.settleFirst();
    }
  }

  private setTools(tools: readonly Tool[]): void {
    if (tools.length > MAX_TOOLS_PER_SERVER) {
      this.logger.warn({ mcp_server: this.name, tools: tools.length, kept: MAX_TOOLS_PER_SERVER }, 'MCP server lists too many tools; the first are kept');
    }
    this.tools = Object.freeze(tools.slice(0, MAX_TOOLS_PER_SERVER).map(toolOf));
    this.version++;
  }

  /** The server failed (connecting, or later): its tools are gone until a retry connects. */
  private failed(client: Client, err: unknown): void {
    if (this.client !== client || this.state === 'closed') return;
    this.client = null;
    void client.close().catch(() => {});
    this.state = 'down';
    this.stats.failures++;
    if (this.tools.length) {
      this.tools = [];
      this.version++;
    }
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(this.failures, 16));
    const line = { mcp_server: this.name, error: safeMessage(err), retry_ms: delay };
    if (this.failures === 0) this.logger.warn(line, 'MCP server unreachable; its tools are left out until it is back');
    else this.logger.debug(line, 'MCP server still unreachable');
    this.failures++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  /**
   * Calls one tool, bounded by `timeoutMs` and `signal`. Rejects when the server is not
   * connected or the call fails; a transport failure also marks the server down.
   */
  async call(tool: string, args: Record<string, unknown>, timeoutMs: number, signal: AbortSignal): Promise<CallToolResult> {
    const client = this.client;
    if (client === null || this.state !== 'connected') throw new Error(`MCP server "${this.name}" is not connected`);
    this.stats.calls++;
    try {
      return (await client.callTool({ name: tool, arguments: args }, undefined, { timeout: timeoutMs, maxTotalTimeout: timeoutMs, signal })) as CallToolResult;
    } catch (err) {
      this.stats.call_errors++;
      // A protocol error (unknown tool, bad arguments, timeout) has a numeric JSON-RPC code; anything else is the transport.
      if (typeof (err as { code?: unknown }).code !== 'number' && !signal.aborted) this.failed(client, err);
      throw new Error(safeMessage(err));
    }
  }

  snapshot(): Record<string, unknown> {
    return { state: this.state, tools: this.tools.map((t) => t.name), ...this.stats };
  }

  /** Closes the client (and so stops a stdio server's process); no retry follows. */
  async close(): Promise<void> {
    this.state = 'closed';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    this.client = null;
    this.tools = [];
    this.settleFirst();
    if (client) await client.close().catch(() => {});
  }
}
