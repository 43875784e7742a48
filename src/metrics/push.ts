import { hostname as osHostname } from 'node:os';
import type { Config } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import { cleanGo, compileNames, fullName, namespace, renderPrefix } from './names.ts';
import { formatLines, type NameContext, type PushTarget } from './push-format.ts';
import { IntervalTracker, PUSHED_METRICS, type Source } from './push-snapshot.ts';
import { graphiteSender, type Sender, udpSender, writerSender } from './push-transport.ts';

/**
 * fabio's push metrics backends: every metrics.interval, one snapshot of the prom-client metrics of
 * every process (the primary asks its workers; one process reads its own registry), turned into the
 * interval's deltas and sent to each target of metrics.target. See docs/design.md "Push metrics".
 */

export interface PushOptions {
  cfg: Config;
  log: Logger;
  /** The registries to read (all processes). */
  snapshot(): Promise<readonly Source[]>;
  hostname?: string;
  exec?: string;
  /** stdout for flat/label (tests inject). */
  write?: (text: string) => void;
  /** Unix time in ms (graphite timestamps). */
  now?: () => number;
}

export interface Pusher {
  /** The targets being pushed to (empty: nothing to do, no timer runs). */
  readonly targets: readonly PushTarget[];
  /** One push now (the timer calls this; tests too). Never rejects. */
  pushNow(): Promise<void>;
  close(): void;
}

/** Which metrics.target entries are push targets (`stdout` is fabio's other name for `flat`). */
function pushTargets(target: string): PushTarget[] {
  const out = new Set<PushTarget>();
  for (const t of target.split(',').map((s) => s.trim())) {
    if (t === 'stdout' || t === 'flat') out.add('flat');
    else if (t === 'label' || t === 'graphite' || t === 'statsd_raw' || t === 'dogstatsd') out.add(t);
  }
  return [...out];
}

/** Starts pushing; throws (start-up error) on a bad metrics.names template or address. */
export function startPush(o: PushOptions): Pusher {
  const { cfg, log } = o;
  const targets = pushTargets(cfg.str('metrics.target'));
  const vars = { Hostname: o.hostname ?? osHostname(), Exec: o.exec ?? 'fabio' };
  // The prom-client names the proxy's registry uses, mapped back to fabio's internal names.
  const ns = namespace(cfg.str('metrics.prefix'), vars);
  const sub = cfg.str('metrics.prometheus.subsystem');
  const promNames = new Map<string, string>(PUSHED_METRICS.map((n) => [fullName(ns, sub, n), n]));
  const ctx: NameContext = {
    prefix: renderPrefix(cfg.str('metrics.prefix'), vars, cleanGo),
    routeName: compileNames(cfg.str('metrics.names')),
  };
  const senders = new Map<PushTarget, Sender>();
  const write = o.write ?? ((t: string) => process.stdout.write(t));
  for (const t of targets) {
    if (t === 'graphite') senders.set(t, graphiteSender(cfg.str('metrics.graphite.addr'), log));
    else if (t === 'statsd_raw') senders.set(t, udpSender(cfg.str('metrics.statsd.addr'), 'statsd', log));
    else if (t === 'dogstatsd') senders.set(t, udpSender(cfg.str('metrics.dogstatsd.addr'), 'dogstatsd', log));
    else senders.set(t, writerSender(write));
  }
  for (const t of targets) log.info(`Registering metrics provider "${t}"`);
  const tracker = new IntervalTracker(promNames);
  const now = o.now ?? Date.now;
  let busy = false;
  let timer: NodeJS.Timeout | undefined;

  const pushNow = async () => {
    // a slow snapshot (a stuck worker answers within 2 s) must not stack pushes
    if (busy || senders.size === 0) return;
    busy = true;
    try {
      const samples = tracker.next(await o.snapshot());
      const sec = Math.floor(now() / 1000);
      for (const [t, s] of senders) s.send(formatLines(t, ctx, samples, sec));
    } catch (err) {
      log.error(`metrics: push failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      busy = false;
    }
  };
  if (senders.size > 0) {
    timer = setInterval(() => void pushNow(), Math.max(1, cfg.num('metrics.interval')));
    timer.unref();
  }
  return {
    targets,
    pushNow,
    close() {
      if (timer) clearInterval(timer);
      for (const s of senders.values()) s.close();
      senders.clear();
    },
  };
}
