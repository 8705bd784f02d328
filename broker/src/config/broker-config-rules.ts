/**
 * Derived values and cross-key rules of the broker configuration (KafkaConfig / KafkaConfigValidator).
 *
 * Each rule names the keys it reads; a rule is skipped when one of them already has a problem (an invalid or
 * missing value), so that one mistake produces one message, not a cascade. Messages follow Kafka's wording so
 * that they can be searched for.
 *
 * Architecture invariant: this module imports only types from broker-config.ts (no import cycle at run time).
 */
import type { BrokerConfig } from './broker-config.ts';
import { longToNumber } from './config-def.ts';
import type { ConfigProblem } from './config-error.ts';
import {
  parseCsvList,
  parseEndpointList,
  parseHostPort,
  parseSecurityProtocolMap,
  parseVoters,
  type EndpointAddress,
  type ListenerEndpoint,
  type Parsed,
  type SecurityProtocol,
} from './listeners.ts';

/** Kafka's effectiveListenerSecurityProtocolMap (KRaft). */
export function effectiveSecurityProtocolMap(config: BrokerConfig): Parsed<Map<string, SecurityProtocol>> {
  const parsed = parseSecurityProtocolMap(config.get('listener.security.protocol.map'));
  if (!parsed.ok || config.isSet('listener.security.protocol.map')) return parsed;
  // Not set explicitly: add PLAINTEXT for controller listeners unless SSL or SASL is in use anywhere.
  const sslOrSasl = (name: string): boolean => name === 'SSL' || name === 'SASL_SSL' || name === 'SASL_PLAINTEXT';
  const controllerNames = config.controllerListenerNames;
  const listenerNames = parseCsvList(config.get('listeners')).map((l) => l.slice(0, Math.max(0, l.indexOf('://'))).toUpperCase());
  if (controllerNames.some(sslOrSasl) || listenerNames.some(sslOrSasl)) return parsed;
  const map = new Map(parsed.value);
  for (const name of controllerNames) if (name !== 'PLAINTEXT' && !map.has(name)) map.set(name, 'PLAINTEXT');
  return { ok: true, value: map };
}

function withProtocols(endpoints: readonly EndpointAddress[], map: ReadonlyMap<string, SecurityProtocol>): Parsed<ListenerEndpoint[]> {
  const out: ListenerEndpoint[] = [];
  for (const e of endpoints) {
    const protocol = map.get(e.name);
    if (protocol === undefined) return { ok: false, reason: `No security protocol defined for listener ${e.name}` };
    out.push({ ...e, securityProtocol: protocol });
  }
  return { ok: true, value: out };
}

export function resolveListeners(config: BrokerConfig, which: 'listeners' | 'advertised.listeners'): Parsed<ListenerEndpoint[]> {
  const map = effectiveSecurityProtocolMap(config);
  if (!map.ok) return map;
  const endpoints = parseEndpointList(config.get(which), which === 'listeners');
  if (!endpoints.ok) return endpoints;
  return withProtocols(endpoints.value, map.value);
}

export function resolveAdvertisedBrokerListeners(config: BrokerConfig): Parsed<ListenerEndpoint[]> {
  const which = config.get('advertised.listeners') !== null ? 'advertised.listeners' : 'listeners';
  const all = resolveListeners(config, which);
  if (!all.ok) return all;
  const controllers = new Set(config.controllerListenerNames);
  return { ok: true, value: all.value.filter((l) => !controllers.has(l.name)) };
}

export function resolveInterBrokerListener(config: BrokerConfig): Parsed<{ name: string; securityProtocol: SecurityProtocol }> {
  const name = config.get('inter.broker.listener.name');
  const map = effectiveSecurityProtocolMap(config);
  if (!map.ok) return map;
  if (name !== null) {
    const upper = name.toUpperCase();
    const protocol = map.value.get(upper);
    if (protocol === undefined) {
      return {
        ok: false,
        reason: `Listener with name ${upper} defined in inter.broker.listener.name not found in listener.security.protocol.map`,
      };
    }
    return { ok: true, value: { name: upper, securityProtocol: protocol } };
  }
  const protocol = config.get('security.inter.broker.protocol') as SecurityProtocol;
  return { ok: true, value: { name: protocol, securityProtocol: protocol } };
}

// -----------------------------------------------------------------------------------------------------------
// Cross-key checks

interface Rule {
  /** Keys the rule reads; it is skipped when any of them is already known to be bad. */
  readonly keys: readonly string[];
  /** Returns problem messages (empty when the rule holds). */
  readonly check: (config: BrokerConfig) => readonly string[];
}

const when = (condition: boolean, message: string): string[] => (condition ? [] : [message]);
const reasonOf = <T>(parsed: Parsed<T>): string[] => (parsed.ok ? [] : [parsed.reason]);

const LISTENER_KEYS = ['listeners', 'listener.security.protocol.map', 'controller.listener.names'] as const;

const RULES: readonly Rule[] = [
  {
    keys: ['node.id', 'broker.id'],
    check: (c) =>
      when(
        c.get('broker.id') === -1 || !c.isSet('broker.id') || c.get('broker.id') === c.get('node.id'),
        'You must set `node.id` to the same value as `broker.id`.',
      ),
  },
  {
    keys: ['process.roles'],
    check: (c) => {
      const roles = c.get('process.roles');
      if (roles.length === 0) return ['process.roles must contain broker, controller, or both'];
      return when(new Set(roles).size === roles.length, `Duplicate role names found in \`process.roles\`: ${roles.join(',')}`);
    },
  },
  {
    keys: ['process.roles', 'controller.quorum.voters', 'controller.quorum.bootstrap.servers'],
    check: (c) =>
      when(
        c.get('controller.quorum.voters').length > 0 || c.get('controller.quorum.bootstrap.servers').length > 0,
        'If using process.roles, either controller.quorum.bootstrap.servers must contain the set of bootstrap controllers or controller.quorum.voters must contain a parseable set of voters.',
      ),
  },
  {
    keys: ['process.roles', 'controller.listener.names'],
    check: (c) =>
      when(
        c.controllerListenerNames.length > 0,
        c.isController
          ? "controller.listener.names must contain at least one value appearing in the 'listeners' configuration when running the KRaft controller role"
          : 'controller.listener.names must contain at least one value when running KRaft with just the broker role',
      ),
  },
  {
    keys: LISTENER_KEYS,
    check: (c) => [...reasonOf(effectiveSecurityProtocolMap(c)), ...reasonOf(resolveListeners(c, 'listeners'))].slice(0, 1),
  },
  {
    // Broker only: the controller is reached over controller.listener.names, which this node must not serve.
    keys: ['process.roles', 'node.id', 'controller.quorum.voters', ...LISTENER_KEYS],
    check: (c) => {
      if (c.isController || !c.isBroker) return [];
      const out: string[] = [];
      const voterIds = voterIdsOf(c);
      if (voterIds.includes(c.nodeId)) {
        out.push(
          `If process.roles contains just the 'broker' role, the node id ${c.nodeId} must not be included in the set of voters controller.quorum.voters=${voterIds.join(',')}`,
        );
      }
      const listenerNames = new Set(listenerNamesOf(c));
      if (c.controllerListenerNames.some((n) => listenerNames.has(n))) {
        out.push("controller.listener.names must not contain a value appearing in the 'listeners' configuration when running KRaft with just the broker role");
      }
      const map = effectiveSecurityProtocolMap(c);
      if (map.ok) {
        for (const name of c.controllerListenerNames) {
          if (!map.value.has(name)) {
            out.push(
              `Controller listener with name ${name} defined in controller.listener.names not found in listener.security.protocol.map (an explicit security mapping for each controller listener is required if listener.security.protocol.map is non-empty, or if there are security protocols other than PLAINTEXT in use)`,
            );
          }
        }
      }
      return out;
    },
  },
  {
    // Controller role (alone or combined): serve the controller listeners and be a voter.
    keys: ['process.roles', 'node.id', 'controller.quorum.voters', ...LISTENER_KEYS],
    check: (c) => {
      if (!c.isController) return [];
      const out: string[] = [];
      const voterIds = voterIdsOf(c);
      if (voterIds.length > 0 && !voterIds.includes(c.nodeId)) {
        out.push(
          `If process.roles contains the 'controller' role, the node id ${c.nodeId} must be included in the set of voters controller.quorum.voters=${voterIds.join(',')}`,
        );
      }
      const listenerNames = new Set(listenerNamesOf(c));
      const names = c.controllerListenerNames;
      if (names.length > 0 && !names.some((n) => listenerNames.has(n))) {
        out.push("controller.listener.names must contain at least one value appearing in the 'listeners' configuration when running the KRaft controller role");
      } else if (!names.every((n) => listenerNames.has(n))) {
        out.push("controller.listener.names must only contain values appearing in the 'listeners' configuration when running the KRaft controller role");
      }
      if (!c.isBroker) {
        const controllerNames = new Set(names);
        if (listenerNamesOf(c).some((n) => !controllerNames.has(n))) {
          out.push('The listeners config must only contain KRaft controller listeners from controller.listener.names when process.roles=controller');
        }
      }
      return out;
    },
  },
  {
    // Broker role: what it advertises, and how brokers reach each other.
    keys: ['process.roles', 'advertised.listeners', 'inter.broker.listener.name', 'security.inter.broker.protocol', ...LISTENER_KEYS],
    check: (c) => {
      if (!c.isBroker) return [];
      if (c.get('inter.broker.listener.name') !== null && c.isSet('security.inter.broker.protocol')) {
        return ['Only one of inter.broker.listener.name and security.inter.broker.protocol should be set.'];
      }
      const advertised = resolveAdvertisedBrokerListeners(c);
      if (!advertised.ok) return [advertised.reason];
      const out: string[] = [];
      const advertisedNames = advertised.value.map((l) => l.name);
      if (advertisedNames.length === 0) {
        out.push('There must be at least one advertised listener. Perhaps all listeners appear in controller.listener.names?');
      }
      const interBroker = resolveInterBrokerListener(c);
      if (!interBroker.ok) out.push(interBroker.reason);
      else if (advertisedNames.length > 0 && !advertisedNames.includes(interBroker.value.name)) {
        out.push(
          `inter.broker.listener.name must be a listener name defined in advertised.listeners. The valid options based on currently configured listeners are ${advertisedNames.join(',')}`,
        );
      }
      const listenerNames = new Set(listenerNamesOf(c));
      const extra = advertisedNames.filter((n) => !listenerNames.has(n));
      if (extra.length > 0) {
        out.push(
          `advertised.listeners listener names must be equal to or a subset of the ones defined in listeners. Found ${extra.join(',')} The valid options based on the current configuration are ${[...listenerNames].join(', ')}`,
        );
      }
      if (advertised.value.some((l) => l.host === '0.0.0.0')) {
        out.push('advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. Use a routable IP address.');
      }
      return out;
    },
  },
  {
    keys: ['log.roll.ms', 'log.roll.hours'],
    check: (c) => when(c.logRollMs >= 1, 'log.roll.ms must be greater than or equal to 1'),
  },
  {
    keys: ['log.roll.jitter.ms', 'log.roll.jitter.hours'],
    check: (c) => when(c.logRollJitterMs >= 0, 'log.roll.jitter.ms must be greater than or equal to 0'),
  },
  {
    keys: ['log.retention.ms', 'log.retention.minutes', 'log.retention.hours'],
    check: (c) => when(c.logRetentionMs >= 1 || c.logRetentionMs === -1, 'log.retention.ms must be unlimited (-1) or, greater than or equal to 1'),
  },
  {
    keys: ['log.dirs', 'log.dir'],
    check: (c) => when(c.logDirs.length > 0, 'At least one log directory must be defined via log.dirs or log.dir.'),
  },
  {
    keys: ['log.cleaner.dedupe.buffer.size', 'log.cleaner.threads'],
    check: (c) => {
      const threads = c.get('log.cleaner.threads');
      return when(
        threads === 0 || longToNumber(c.get('log.cleaner.dedupe.buffer.size')) / threads > 1024 * 1024,
        'log.cleaner.dedupe.buffer.size must be at least 1MB per cleaner thread.',
      );
    },
  },
  {
    keys: ['replica.fetch.wait.max.ms', 'replica.socket.timeout.ms', 'replica.lag.time.max.ms'],
    check: (c) => {
      const wait = c.get('replica.fetch.wait.max.ms');
      return [
        ...when(wait <= c.get('replica.socket.timeout.ms'), 'replica.socket.timeout.ms should always be at least replica.fetch.wait.max.ms to prevent unnecessary socket timeouts'),
        ...when(
          wait <= longToNumber(c.get('replica.lag.time.max.ms')),
          'replica.fetch.wait.max.ms should always be less than or equal to replica.lag.time.max.ms to prevent frequent changes in ISR',
        ),
      ];
    },
  },
  {
    keys: ['queued.max.request.bytes', 'socket.request.max.bytes'],
    check: (c) => {
      const queued = longToNumber(c.get('queued.max.request.bytes'));
      return when(queued <= 0 || queued >= c.get('socket.request.max.bytes'), 'queued.max.request.bytes must be larger or equal to socket.request.max.bytes');
    },
  },
  {
    keys: [
      'group.consumer.heartbeat.interval.ms',
      'group.consumer.min.heartbeat.interval.ms',
      'group.consumer.max.heartbeat.interval.ms',
      'group.consumer.session.timeout.ms',
      'group.consumer.min.session.timeout.ms',
      'group.consumer.max.session.timeout.ms',
    ],
    check: (c) => {
      const hb = c.get('group.consumer.heartbeat.interval.ms');
      const hbMin = c.get('group.consumer.min.heartbeat.interval.ms');
      const hbMax = c.get('group.consumer.max.heartbeat.interval.ms');
      const st = c.get('group.consumer.session.timeout.ms');
      const stMin = c.get('group.consumer.min.session.timeout.ms');
      const stMax = c.get('group.consumer.max.session.timeout.ms');
      return [
        ...when(hbMax >= hbMin, 'group.consumer.max.heartbeat.interval.ms must be greater than or equals to group.consumer.min.heartbeat.interval.ms'),
        ...when(hb >= hbMin, 'group.consumer.heartbeat.interval.ms must be greater than or equals to group.consumer.min.heartbeat.interval.ms'),
        ...when(hb <= hbMax, 'group.consumer.heartbeat.interval.ms must be less than or equals to group.consumer.max.heartbeat.interval.ms'),
        ...when(stMax >= stMin, 'group.consumer.max.session.timeout.ms must be greater than or equals to group.consumer.min.session.timeout.ms'),
        ...when(st >= stMin, 'group.consumer.session.timeout.ms must be greater than or equals to group.consumer.min.session.timeout.ms'),
        ...when(st <= stMax, 'group.consumer.session.timeout.ms must be less than or equals to group.consumer.max.session.timeout.ms'),
      ];
    },
  },
  {
    keys: ['max.connections.per.ip', 'max.connections.per.ip.overrides'],
    check: (c) => {
      const overrides = c.get('max.connections.per.ip.overrides');
      const bad = parseCsvList(overrides).filter((entry) => !/^[^:\s]+:[0-9]+$/.test(entry) && !/^\[[0-9a-fA-F:.]+\]:[0-9]+$/.test(entry));
      return [
        ...when(
          c.get('max.connections.per.ip') !== 0 || overrides.trim() !== '',
          'max.connections.per.ip can be set to zero only if max.connections.per.ip.overrides property is set.',
        ),
        ...when(bad.length === 0, `max.connections.per.ip.overrides contains invalid entries (expected host:count): ${bad.join(',')}`),
      ];
    },
  },
  {
    // Millrace: the admin HTTP server must not try to bind a port a Kafka listener already binds.
    keys: ['millrace.http.enable', 'millrace.http.listener', ...LISTENER_KEYS],
    check: (c) => {
      if (!c.get('millrace.http.enable')) return [];
      const http = parseHostPort(c.get('millrace.http.listener'), { allowZeroPort: true });
      const listeners = parseEndpointList(c.get('listeners'), true);
      if (!http.ok || !listeners.ok || http.value.port === 0) return [];
      const overlaps = (host: string | null): boolean => host === null || host === '0.0.0.0' || http.value.host === '0.0.0.0' || host === http.value.host;
      const clash = listeners.value.find((l) => l.port === http.value.port && overlaps(l.host));
      return clash === undefined ? [] : [`millrace.http.listener port ${http.value.port} is also bound by listener ${clash.name}`];
    },
  },
];

function voterIdsOf(config: BrokerConfig): number[] {
  const voters = parseVoters(config.get('controller.quorum.voters'));
  return voters.ok ? voters.value.map((v) => v.id) : [];
}

function listenerNamesOf(config: BrokerConfig): string[] {
  const endpoints = parseEndpointList(config.get('listeners'), true);
  return endpoints.ok ? endpoints.value.map((e: EndpointAddress) => e.name) : [];
}

/** Runs every rule whose keys are all good; returns one CONFIG_INCONSISTENT problem per broken rule message. */
export function checkBrokerConfig(config: BrokerConfig, badKeys: ReadonlySet<string>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const rule of RULES) {
    if (rule.keys.some((k) => badKeys.has(k))) continue;
    for (const message of rule.check(config)) {
      const key = rule.keys.find((k) => message.includes(k)) ?? rule.keys[0] ?? null;
      problems.push({ code: 'CONFIG_INCONSISTENT', key, value: null, origin: key === null ? null : (config.origin(key) ?? null), message });
    }
  }
  return problems;
}
