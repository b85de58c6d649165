import type { FeatureModule } from './feature.js';
import { bounded } from '../config/ranges.js';
import { ORDER } from './feature.js';
import { failureKind } from '../errors.js';
import type { CompiledTarget } from '../pipeline/compiled.js';
import type { RequestContext } from '../pipeline/context.js';
import { parseDuration } from '../util/units.js';

export interface HealthCheckConfig {
  interval?: string;
  path?: string;
  timeout?: string;
  healthy_after?: number;
  unhealthy_after?: number;
  failures?: number;
  window?: string;
  cooldown?: string;
}

const DEFAULTS = { path: '/v1/models', timeout: '5s', healthy_after: 2, unhealthy_after: 3, failures: 5, window: '30s', cooldown: '30s' } as const;

type Circuit = 'closed' | 'open' | 'half_open';
const CIRCUIT_VALUE: Record<Circuit, number> = { closed: 0, half_open: 1, open: 2 };

/** What the gateway knows of one target's health: active probes and a passive circuit breaker. */
class TargetHealth {
  probeUp = true;
  okStreak = 0;
  failStreak = 0;
  /** Times of recent failed tries, within the window. */
  recent: number[] = [];
  /** The circuit is open until this time (ms); 0 when closed. */
  openUntil = 0;
  /** The request testing a half-open circuit, if one is. */
  trial: RequestContext | null = null;

  constructor(readonly target: CompiledTarget) {}

  circuit(now: number): Circuit {
    if (this.openUntil === 0) return 'closed';
    return now < this.openUntil ? 'open' : 'half_open';
  }

  usable(now: number): boolean {
    if (!this.probeUp) return false;
    const circuit = this.circuit(now);
    return circuit === 'closed' || (circuit === 'half_open' && this.trial === null);
  }
}

/**
 * `health_check`: active probes (`GET path` every `interval`; `unhealthy_after` failures
 * in a row mark a target down, `healthy_after` successes up; any answer below 500 is a
 * success) and passive ejection (`failures` failed tries within `window` open the
 * target's circuit for `cooldown`; then one request tests it: success closes it, failure
 * opens it again). Unhealthy targets go last in every request's candidates, so they are
 * skipped while a healthy one remains; when none is healthy they are tried anyway.
 */
export const healthCheck: FeatureModule<HealthCheckConfig> = {
  name: 'health_check',
  order: ORDER.health_check,
  describe(c) {
    const active = c.interval ? `probe GET ${c.path ?? DEFAULTS.path} every ${c.interval}` : 'no active probes';
    return `${active}; eject after ${c.failures ?? DEFAULTS.failures} failures in ${c.window ?? DEFAULTS.window} for ${c.cooldown ?? DEFAULTS.cooldown}`;
  },
  schema: {
    description: 'Tracks each target\'s health (active probes and passive ejection); unhealthy targets are skipped while a healthy one remains.',
    type: 'object',
    additionalProperties: false,
    properties: {
      interval: bounded('duration', '10ms', '1h', 'Probe every target this often. Without it, no active probes (passive ejection still works).'),
      path: { description: 'What a probe GETs on the upstream, with its injected credential if it has one. Default `/v1/models`.', type: 'string', pattern: '^/', default: DEFAULTS.path },
      timeout: bounded('duration', '1ms', '1m', 'A probe that takes longer failed. Default 5s.', { default: DEFAULTS.timeout }),
      healthy_after: { description: 'Successful probes in a row that mark a down target up. Default 2. Range: 1 to 100.', type: 'integer', minimum: 1, maximum: 100, default: DEFAULTS.healthy_after },
      unhealthy_after: { description: 'Failed probes in a row that mark a target down. Default 3. Range: 1 to 100.', type: 'integer', minimum: 1, maximum: 100, default: DEFAULTS.unhealthy_after },
      failures: { description: 'Failed tries (5xx, connect_error, timeout) within `window` that open the circuit. Default 5. Range: 1 to 10000.', type: 'integer', minimum: 1, maximum: 10_000, default: DEFAULTS.failures },
      window: bounded('duration', '1ms', '1d', 'The window `failures` are counted in. Default 30s.', { default: DEFAULTS.window }),
      cooldown: bounded('duration', '1ms', '1d', 'How long an ejected target is skipped before one request tests it again. Default 30s.', { default: DEFAULTS.cooldown }),
    },
  },
  create(config, deps) {
    const threshold = config.failures ?? DEFAULTS.failures;
    const windowMs = parseDuration(config.window ?? DEFAULTS.window);
    const cooldownMs = parseDuration(config.cooldown ?? DEFAULTS.cooldown);
    const healthyAfter = config.healthy_after ?? DEFAULTS.healthy_after;
    const unhealthyAfter = config.unhealthy_after ?? DEFAULTS.unhealthy_after;
    const probePath = config.path ?? DEFAULTS.path;
    const probeTimeoutMs = parseDuration(config.timeout ?? DEFAULTS.timeout);
    const healthyGauge = deps.metrics.localGauge('ai_gateway_target_healthy', 'Whether a target is usable now (1) or skipped (0), by router and upstream.', ['router', 'upstream']);
    const circuitGauge = deps.metrics.localGauge('ai_gateway_circuit_state', 'Circuit state of a target: 0 closed, 1 half-open, 2 open.', ['router', 'upstream']);

    const health = new Map<CompiledTarget, TargetHealth>(deps.targets.map((t) => [t, new TargetHealth(t)]));
    let trials = 0;

    // Each target's gauge children, found once: publish runs after every try.
    const gauges = new Map(deps.targets.map((t) => [t, { healthy: healthyGauge.child(deps.routerName, t.upstream.name), circuit: circuitGauge.child(deps.routerName, t.upstream.name) }]));
    const publish = (h: TargetHealth, now = Date.now()): void => {
      const g = gauges.get(h.target)!;
      g.healthy.set(h.usable(now) ? 1 : 0);
      g.circuit.set(CIRCUIT_VALUE[h.circuit(now)]);
    };
    const endTrial = (h: TargetHealth): void => {
      if (h.trial) trials--;
      h.trial = null;
    };
    const failed = (h: TargetHealth): void => {
      const now = Date.now();
      if (h.openUntil !== 0) {
        h.openUntil = now + cooldownMs; // a failed test (or a straggler) keeps it open
      } else {
        h.recent = h.recent.filter((t) => now - t < windowMs);
        h.recent.push(now);
        if (h.recent.length >= threshold) {
          h.openUntil = now + cooldownMs;
          h.recent = [];
          deps.logger.warn({ router: deps.routerName, upstream: h.target.upstream.name, cooldown_ms: cooldownMs }, 'target ejected');
          deps.events.emit('circuit.opened', { router: deps.routerName, upstream: h.target.upstream.name, model: h.target.model, cooldown_ms: cooldownMs });
        }
      }
      endTrial(h);
      publish(h, now);
    };
    const succeeded = (h: TargetHealth): void => {
      if (h.openUntil !== 0 && h.circuit(Date.now()) === 'half_open') {
        h.openUntil = 0;
        h.recent = [];
        deps.logger.info({ router: deps.routerName, upstream: h.target.upstream.name }, 'target readmitted');
        deps.events.emit('circuit.closed', { router: deps.routerName, upstream: h.target.upstream.name, model: h.target.model });
      }
      endTrial(h);
      publish(h);
    };

    let timer: NodeJS.Timeout | null = null;
    let probing = false;
    let closed = false;
    const probeOne = async (h: TargetHealth): Promise<void> => {
      const probe = h.target.upstream.provider.probe;
      if (!probe) return;
      let ok: boolean;
      try {
        ok = (await probe.call(h.target.upstream.provider, probePath, probeTimeoutMs)) < 500;
      } catch {
        ok = false;
      }
      if (closed) return;
      if (ok) {
        h.failStreak = 0;
        if (++h.okStreak >= healthyAfter && !h.probeUp) h.probeUp = true;
      } else {
        h.okStreak = 0;
        if (++h.failStreak >= unhealthyAfter && h.probeUp) {
          h.probeUp = false;
          deps.logger.warn({ router: deps.routerName, upstream: h.target.upstream.name }, 'target failed its health probes');
        }
      }
      publish(h);
    };
    const probeAll = (): void => {
      if (probing || closed) return;
      probing = true;
      void Promise.allSettled([...health.values()].map(probeOne)).then(() => {
        probing = false;
      });
    };
    if (config.interval) {
      timer = setInterval(probeAll, parseDuration(config.interval));
      timer.unref();
      probeAll();
    }
    for (const h of health.values()) publish(h);

    return {
      name: 'health_check',
      filterTargets(ctx, candidates) {
        const now = Date.now();
        let list = candidates;
        if (!candidates.every((t) => health.get(t)?.usable(now) ?? true)) {
          const usable = candidates.filter((t) => health.get(t)?.usable(now) ?? true);
          if (usable.length > 0) list = [...usable, ...candidates.filter((t) => !usable.includes(t))];
        }
        const first = health.get(list[0]!);
        if (first && first.trial === null && first.circuit(now) === 'half_open') {
          first.trial = ctx; // this request tests the half-open circuit; others skip it meanwhile
          trials++;
        }
        return list;
      },
      wrapCall(next) {
        return async (ctx, attempt) => {
          const h = health.get(attempt.target);
          if (!h) return next(ctx, attempt);
          try {
            const response = await next(ctx, attempt);
            if (response.status >= 500) failed(h);
            else succeeded(h);
            return response;
          } catch (err) {
            if (failureKind(err) !== 'aborted') failed(h);
            else if (h.trial === ctx) endTrial(h);
            throw err;
          }
        };
      },
      onDone(ctx) {
        if (trials === 0) return;
        for (const h of health.values()) if (h.trial === ctx) endTrial(h);
      },
      stats() {
        const now = Date.now();
        return {
          targets: [...health.values()].map((h) => ({
            upstream: h.target.upstream.name,
            model: h.target.model,
            healthy: h.usable(now),
            probe: config.interval ? (h.probeUp ? 'up' : 'down') : 'off',
            circuit: h.circuit(now),
            recent_failures: h.recent.filter((t) => now - t < windowMs).length,
          })),
        };
      },
      close() {
        closed = true;
        if (timer) clearInterval(timer);
      },
    };
  },
};
