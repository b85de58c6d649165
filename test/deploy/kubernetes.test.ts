import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { createGateway, loadConfigText, type Gateway } from '../../src/index.js';
import { parseHostPort } from '../../src/server/address.js';
import { HEALTH_PATHS, METRICS_PATHS } from '../../src/server/admin.js';
import { parseDuration } from '../../src/util/units.js';
import { shippedNodeFlags } from '../../bench/lib/node-flags.js';

const DIR = 'examples/kubernetes';
/** The models that validate each kind against the Kubernetes (and Prometheus Operator) API schemas. */
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'apps/v1/Deployment': Deployment,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
};

type Doc = { apiVersion: string; kind: string; metadata: { name: string }; [key: string]: any };
const docs: Doc[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => parseAllDocuments(readFileSync(join(DIR, f), 'utf8')).map((d) => d.toJS() as Doc));
const only = (kind: string): Doc => {
  const found = docs.filter((d) => d.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0]!;
};

const deployment = only('Deployment');
const configMap = only('ConfigMap');
const podMonitor = only('PodMonitor');
const pod = deployment.spec.template.spec;
const sidecar = pod.initContainers.find((c: any) => c.name === 'sidegate');
const app = pod.containers[0];
const portOf = (name: string): number => sidecar.ports.find((p: any) => p.name === name).containerPort;

/** The Secret-backed environment the sidecar gets, with stand-in values (the webhook secret has a format). */
const env: Record<string, string> = Object.fromEntries(
  sidecar.env.map((e: any) => [e.name, e.name === 'WEBHOOK_SECRET' ? 'whsec_c2lkZWdhdGUtZXhhbXBsZS1zZWNyZXQ=' : `${e.name.toLowerCase()}-value`]),
);
const configPath: string = sidecar.args[sidecar.args.indexOf('-c') + 1];
const configText: string = configMap.data[basename(configPath)];
const loaded = loadConfigText(configText, 'configmap:gateway.yaml', env);
const server = loaded.config.server!;

describe('examples/kubernetes', () => {
  test('every manifest is valid for the Kubernetes API (kubernetes-models)', () => {
    assert.ok(docs.length >= 3);
    for (const doc of docs) {
      const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
      assert.ok(Model, `${doc.kind} ${doc.metadata.name} has a schema to check it`);
      assert.doesNotThrow(() => new Model(doc).validate(), `${doc.kind} ${doc.metadata.name}`);
    }
    const broken = structuredClone(deployment);
    broken.spec.template.spec.initContainers[0].ports[0].containerPort = 'health';
    assert.throws(() => new Deployment(broken).validate(), /containerPort/, 'the validation is real');
  });

  test('sidegate is a native sidecar that outlives the app\'s shutdown and its own drain', () => {
    assert.equal(sidecar.restartPolicy, 'Always');
    assert.ok(pod.terminationGracePeriodSeconds * 1000 > parseDuration(server.drain!), 'terminationGracePeriodSeconds > server.drain');
    assert.ok(sidecar.resources.requests.cpu && sidecar.resources.requests.memory && sidecar.resources.limits.memory);
    assert.equal(sidecar.securityContext.readOnlyRootFilesystem, true);
    assert.equal(app.env.find((e: any) => e.name === 'OPENAI_BASE_URL').value, `http://${server.listen}/v1`, 'the app talks to the data plane');
  });

  test('the ConfigMap is mounted as a directory where the gateway reads its config, and the config loads', () => {
    const volume = pod.volumes.find((v: any) => v.configMap?.name === configMap.metadata.name);
    const mount = sidecar.volumeMounts.find((m: any) => m.name === volume.name);
    assert.equal(mount.subPath, undefined, 'no subPath: the ..data swap must reach the watcher');
    assert.equal(mount.mountPath, dirname(configPath));
    assert.ok(configText, `the ConfigMap has ${basename(configPath)}`);
    assert.equal(loaded.config.version, 1);
  });

  test('every variable the config needs comes from the Secret', () => {
    const needed = [...configText.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}/g)];
    assert.ok(needed.length > 0);
    for (const [, name, fallback] of needed) {
      const entry = sidecar.env.find((e: any) => e.name === name);
      assert.ok(entry, `${name} is set`);
      assert.equal(entry.valueFrom.secretKeyRef.name, 'sidegate-keys', `${name} comes from the Secret`);
      if (fallback === undefined) assert.notEqual(entry.valueFrom.secretKeyRef.optional, true, `${name} has no default: the key is required`);
    }
    assert.ok(!JSON.stringify(loaded.redacted).includes('openai_api_key-value'), 'the key is redacted in /config');
  });

  test('probes and the PodMonitor name the ports and paths the gateway serves them on', () => {
    assert.equal(portOf('health'), parseHostPort(server.health!).port);
    assert.equal(portOf('metrics'), parseHostPort(server.metrics!).port);
    assert.notEqual(parseHostPort(server.admin as string).host, '0.0.0.0', 'the admin listener stays on loopback');
    assert.deepEqual([sidecar.startupProbe, sidecar.readinessProbe, sidecar.livenessProbe].map((p) => [p.httpGet.port, p.httpGet.path]), [
      ['health', '/readyz'],
      ['health', '/readyz'],
      ['health', '/healthz'],
    ]);
    for (const probe of [sidecar.startupProbe, sidecar.readinessProbe, sidecar.livenessProbe]) assert.ok(HEALTH_PATHS.has(probe.httpGet.path));
    const endpoint = podMonitor.spec.podMetricsEndpoints[0];
    assert.equal(endpoint.port, 'metrics');
    assert.ok(METRICS_PATHS.has(endpoint.path));
    assert.deepEqual(podMonitor.spec.selector.matchLabels, deployment.spec.template.metadata.labels);
  });

  test('the Dockerfile: numeric non-root user, dependencies cached before sources, OCI labels, the Node that CI tests', () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    const user = /^USER (\d+)(?::(\d+))?$/m.exec(dockerfile);
    assert.ok(user, 'USER is numeric');
    assert.notEqual(user[1], '0');
    assert.equal(Number(user[1]), pod.securityContext.runAsUser);
    const at = (re: RegExp) => dockerfile.search(re);
    assert.ok(at(/^COPY package\.json package-lock\.json/m) < at(/^RUN npm ci/m) && at(/^RUN npm ci/m) < at(/^COPY src /m), 'npm ci runs before src/ is copied');
    for (const label of ['title', 'description', 'version', 'revision', 'licenses']) assert.match(dockerfile, new RegExp(`org\\.opencontainers\\.image\\.${label}=`));
    const majors = [...dockerfile.matchAll(/^FROM node:(\d+)/gm)].map((m) => m[1]);
    const ci = /IMAGE_NODE=(\d+)/.exec(readFileSync('.ci/run', 'utf8'));
    assert.ok(ci && majors.length === 2 && majors.every((m) => m === ci[1]), 'the image runs the Node major .ci/run tests on');
    const exposed = /^EXPOSE (.+)$/m.exec(dockerfile)![1]!.split(/\s+/).map(Number);
    for (const p of sidecar.ports) assert.ok(exposed.includes(p.containerPort), `EXPOSE ${p.containerPort}`);
    assert.match(dockerfile, new RegExp(`^CMD ${JSON.stringify(sidecar.args).replace(/[[\]]/g, '\\$&').replace(/,/g, ', ')}$`, 'm'), 'CMD is what the pod runs');
  });

  test('the image, npm start and the bench run Node with the flags on the CLI\'s first line', () => {
    const flags = shippedNodeFlags('src/cli.ts');
    assert.ok(flags.includes('--max-semi-space-size=8') && flags.includes('--heap-growing-percent=50'), flags.join(' '));
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync('Dockerfile', 'utf8'));
    assert.deepEqual(JSON.parse(entrypoint![1]!), ['node', ...flags, 'dist/cli.js']);
    const start = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
    assert.ok(start.startsWith(`node ${flags.join(' ')} dist/cli.js `), start);
  });
});

describe('the ConfigMap\'s config, served', () => {
  let gateway: Gateway;
  let urls: { health: string; metrics: string };

  before(async () => {
    gateway = await createGateway({ yaml: configText, source: 'configmap:gateway.yaml' }, { env, watch: false });
    const listening = await gateway.listen({ listen: '127.0.0.1:0', admin: '127.0.0.1:0', health: '127.0.0.1:0', metrics: '127.0.0.1:0' });
    urls = { health: listening.healthUrl!, metrics: listening.metricsUrl! };
  });
  after(() => gateway.close({ drainMs: 0 }));

  test('the probe listener answers the probes and nothing else; the metrics listener only /metrics', async () => {
    for (const path of ['/healthz', '/readyz']) assert.equal((await fetch(`${urls.health}${path}`)).status, 200, path);
    for (const path of ['/metrics', '/config', '/stats']) assert.equal((await fetch(`${urls.health}${path}`)).status, 404, `health ${path}`);
    assert.equal((await fetch(`${urls.health}/cache`, { method: 'DELETE' })).status, 404);
    const metrics = await fetch(`${urls.metrics}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /ai_gateway_config_info\{version="[0-9a-f]{12}"\} 1/);
    for (const path of ['/readyz', '/config']) assert.equal((await fetch(`${urls.metrics}${path}`)).status, 404, `metrics ${path}`);
  });
});
