// A small MCP server over stdio (the SDK's McpServer), started by the tests as a child
// process of the gateway: `echo` repeats its text, `whoami` tells its process id and the
// FIXTURE_TOKEN it was given in its environment.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'stdio-fixture', version: '1.0.0' });
server.registerTool('echo', { description: 'Repeats the text.', inputSchema: { text: z.string() } }, async ({ text }) => ({
  content: [{ type: 'text', text: `echo: ${text}` }],
}));
server.registerTool('whoami', { description: 'Tells the process id and token.', inputSchema: {} }, async () => ({
  content: [{ type: 'text', text: JSON.stringify({ pid: process.pid, token: process.env.FIXTURE_TOKEN ?? null }) }],
}));
await server.connect(new StdioServerTransport());
