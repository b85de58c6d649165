import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { gunzipSync } from 'node:zlib';

/** One OTLP/HTTP export as received. */
export interface Export {
  readonly path: string;
  readonly contentType: string;
  readonly body: Buffer;
  json(): any;
}

/** A real OTLP/HTTP receiver on port 0: stores every export and answers 200 `{}`. */
export class OtlpReceiver {
  readonly exports: Export[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<OtlpReceiver> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const receiver = new OtlpReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('request', async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const contentType = String(req.headers['content-type'] ?? '');
      receiver.exports.push({ path: req.url ?? '', contentType, body, json: () => JSON.parse(body.toString('utf8')) });
      const answer = contentType.includes('json') ? '{}' : '';
      res.writeHead(200, { 'content-type': contentType || 'application/json', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
    });
    return receiver;
  }

  /** Every span of every JSON trace export, with attributes as a plain object. */
  spans(): Array<{ traceId: string; spanId: string; parentSpanId: string; name: string; kind: number; status: any; attributes: Record<string, unknown> }> {
    const out = [];
    for (const e of this.exports) {
      if (e.path !== '/v1/traces') continue;
      for (const rs of e.json().resourceSpans ?? []) {
        for (const ss of rs.scopeSpans ?? []) for (const span of ss.spans ?? []) out.push({ ...span, attributes: attributesOf(span.attributes) });
      }
    }
    return out;
  }

  /** Every metric of every JSON metric export, by name. */
  metrics(): Map<string, any[]> {
    const out = new Map<string, any[]>();
    for (const e of this.exports) {
      if (e.path !== '/v1/metrics') continue;
      for (const rm of e.json().resourceMetrics ?? []) {
        for (const sm of rm.scopeMetrics ?? []) for (const m of sm.metrics ?? []) out.set(m.name, [...(out.get(m.name) ?? []), m]);
      }
    }
    return out;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** OTLP's `[{ key, value: { stringValue | intValue | … } }]` as `{ key: value }`. */
export function attributesOf(list: Array<{ key: string; value: any }> = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of list) out[key] = plain(value);
  return out;
}

function plain(value: any): unknown {
  if ('stringValue' in value) return value.stringValue;
  if ('intValue' in value) return Number(value.intValue);
  if ('doubleValue' in value) return value.doubleValue;
  if ('boolValue' in value) return value.boolValue;
  if ('arrayValue' in value) return (value.arrayValue.values ?? []).map(plain);
  return value;
}
