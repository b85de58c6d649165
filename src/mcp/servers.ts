import type { Logger } from 'pino';
import type { McpServerConfig } from '../config/types.js';
import { McpConnection } from './connection.js';

/**
 * The MCP servers of one pipeline (`mcp_servers:`): a connection is made the first time a
 * router's `mcp_tools` names the server, at compile time, and shared by every router of
 * the pipeline. A server no router uses is never contacted. Offline compiles (explain,
 * diff, route) make connections that never connect.
 */
export class McpServers {
  private readonly made = new Map<string, McpConnection>();
  private closed = false;

  constructor(
    private readonly configs: Readonly<Record<string, McpServerConfig>>,
    private readonly logger: Logger,
    private readonly connect: boolean,
  ) {}

  get(name: string): McpConnection {
    let connection = this.made.get(name);
    if (!connection) {
      const config = this.configs[name];
      if (!config) throw new Error(`mcp_tools: no MCP server "${name}" in mcp_servers`);
      connection = new McpConnection(name, config, this.logger);
      this.made.set(name, connection);
      if (this.connect && !this.closed) connection.start();
      else void connection.close();
    }
    return connection;
  }

  /** Closes every connection (stdio servers' processes end with them); safe to call more than once. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.made.values()].map((c) => c.close()));
  }
}
