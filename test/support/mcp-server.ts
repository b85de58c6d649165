import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { ZodRawShape } from 'zod';

/** A tool the test server offers: its zod input shape and what it answers. */
export interface TestTool {
  name: string;
  description: string;
  input: ZodRawShape;
  run(args: Record<string, unknown>): string | Promise<string>;
  /** Answer with `isError: true`. */
  error?: boolean;
}

/** One tool call the server ran. */
export interface ToolCallSeen {
  name: string;
  args: Record<string, unknown>;
}

/**
 * A real MCP server (the SDK's McpServer over streamable HTTP, stateful sessions) on port 0.
 * Every session gets the same tools; `addTool` adds one to all of them, which makes the
 * SDK send `notifications/tools/list_changed`.
 */
export class TestMcpServer {
  readonly calls: ToolCallSeen[] = [];
  /** Request headers of every HTTP request the server got. */
  readonly headers: IncomingMessage['headers'][] = [];
  private readonly sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>();
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly http: Server,
    readonly url: string,
    private readonly tools: TestTool[],
  ) {}

  static async start(tools: TestTool[]): Promise<TestMcpServer> {
    const http = createServer();
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const { port } = http.address() as AddressInfo;
    const mcp = new TestMcpServer(http, `http://127.0.0.1:${port}/mcp`, [...tools]);
    http.on('connection', (socket) => {
      mcp.sockets.add(socket);
      socket.once('close', () => mcp.sockets.delete(socket));
    });
    http.on('request', (req, res) => {
      mcp.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    return mcp;
  }

  private register(server: McpServer, tool: TestTool): void {
    server.registerTool(tool.name, { description: tool.description, inputSchema: tool.input }, async (args: Record<string, unknown>) => {
      this.calls.push({ name: tool.name, args });
      return { content: [{ type: 'text' as const, text: await tool.run(args) }], ...(tool.error && { isError: true }) };
    });
  }

  private async handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    this.headers.push(req.headers);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    const id = req.headers['mcp-session-id'];
    const existing = typeof id === 'string' ? this.sessions.get(id) : undefined;
    if (existing) return existing.transport.handleRequest(req, res, body);
    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"no session"}');
      return;
    }
    const server = new McpServer({ name: 'test-tools', version: '1.0.0' }, { capabilities: { tools: { listChanged: true } } });
    for (const tool of this.tools) this.register(server, tool);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => void this.sessions.set(sid, { transport, server }),
    });
    transport.onclose = () => {
      if (transport.sessionId) this.sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  /** Sessions open now (one per connected client). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Adds a tool to every session (each then sends `notifications/tools/list_changed`). */
  addTool(tool: TestTool): void {
    this.tools.push(tool);
    for (const { server } of this.sessions.values()) this.register(server, tool);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.sessions.values()].map((s) => s.server.close()));
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}
