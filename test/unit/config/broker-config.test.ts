import { describe, expect, expectTypeOf, it } from 'vitest';
import { AlterConfigOp, KAFKA_ERROR_INVALID_CONFIG, KAFKA_ERROR_INVALID_REQUEST } from '../../../broker/src/config/alter-configs.ts';
import {
  BrokerConfig,
  incrementalAlterBrokerConfigs,
  validateBrokerConfigUpdate,
  type RawConfigValue,
} from '../../../broker/src/config/broker-config.ts';
import { ConfigSource } from '../../../broker/src/config/config-def.ts';
import { ConfigError, type ConfigProblem } from '../../../broker/src/config/config-error.ts';
import { parseEndpointList, parseSecurityProtocolMap, parseVoters } from '../../../broker/src/config/listeners.ts';

const COMBINED = {
  'process.roles': 'broker,controller',
  'node.id': '1',
  'controller.quorum.voters': '1@localhost:9093',
  'controller.listener.names': 'CONTROLLER',
  listeners: 'PLAINTEXT://:9092,CONTROLLER://:9093',
};

const staticLayer = (values: Record<string, string>): Map<string, RawConfigValue> =>
  new Map(Object.entries(values).map(([k, v]) => [k, { value: v, origin: { kind: 'code' } as const }]));

function problemsOf(values: Record<string, string>): ConfigProblem[] {
  try {
    BrokerConfig.fromStatic(values);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}

const messages = (values: Record<string, string>): string[] => problemsOf(values).map((p) => p.message);

describe('derived accessors', () => {
  it('retention: log.retention.ms > minutes > hours, negative means -1', () => {
    expect(BrokerConfig.fromStatic(COMBINED).logRetentionMs).toBe(168 * 3_600_000);
    expect(BrokerConfig.fromStatic({ ...COMBINED, 'log.retention.hours': '1' }).logRetentionMs).toBe(3_600_000);
    expect(BrokerConfig.fromStatic({ ...COMBINED, 'log.retention.hours': '1', 'log.retention.minutes': '2' }).logRetentionMs).toBe(120_000);
    expect(BrokerConfig.fromStatic({ ...COMBINED, 'log.retention.minutes': '2', 'log.retention.ms': '5' }).logRetentionMs).toBe(5);
    expect(BrokerConfig.fromStatic({ ...COMBINED, 'log.retention.ms': '-7' }).logRetentionMs).toBe(-1);
    expect(BrokerConfig.fromStatic({ ...COMBINED, 'log.retention.hours': '-1' }).logRetentionMs).toBe(-1);
  });

  it('roll, jitter and flush intervals fall back to their hour / scheduler keys', () => {
    const c = BrokerConfig.fromStatic(COMBINED);
    expect(c.logRollMs).toBe(604_800_000);
    expect(c.logRollJitterMs).toBe(0);
    expect(c.logFlushIntervalMs).toBe(Infinity);
    const d = BrokerConfig.fromStatic({ ...COMBINED, 'log.roll.hours': '2', 'log.roll.jitter.hours': '1', 'log.flush.scheduler.interval.ms': '3000' });
    expect([d.logRollMs, d.logRollJitterMs, d.logFlushIntervalMs]).toEqual([7_200_000, 3_600_000, 3000]);
    const e = BrokerConfig.fromStatic({ ...COMBINED, 'log.roll.ms': '10', 'log.flush.interval.ms': '20' });
    expect([e.logRollMs, e.logFlushIntervalMs]).toEqual([10, 20]);
  });

  it('log dirs: log.dirs (trimmed, empty entries dropped) else log.dir; metadata dir defaults to the first', () => {
    expect(BrokerConfig.fromStatic(COMBINED).logDirs).toEqual(['/tmp/kafka-logs']);
    const c = BrokerConfig.fromStatic({ ...COMBINED, 'log.dir': '/ignored', 'log.dirs': ' /a , /b,,' });
    expect(c.logDirs).toEqual(['/a', '/b']);
    expect(c.metadataLogDir).toBe('/a');
    expect(BrokerConfig.fromStatic({ ...COMBINED, 'metadata.log.dir': '/meta' }).metadataLogDir).toBe('/meta');
  });

  it('listeners carry names, hosts, ports and security protocols', () => {
    const c = BrokerConfig.fromStatic({
      ...COMBINED,
      listeners: 'plaintext://127.0.0.1:9092,CONTROLLER://[::1]:9093,INTERNAL://:0',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT',
      'inter.broker.listener.name': 'internal',
    });
    expect(c.listeners).toEqual([
      { name: 'PLAINTEXT', host: '127.0.0.1', port: 9092, securityProtocol: 'PLAINTEXT' },
      { name: 'CONTROLLER', host: '::1', port: 9093, securityProtocol: 'PLAINTEXT' },
      { name: 'INTERNAL', host: null, port: 0, securityProtocol: 'PLAINTEXT' },
    ]);
    expect(c.controllerListeners.map((l) => l.name)).toEqual(['CONTROLLER']);
    expect(c.advertisedBrokerListeners.map((l) => l.name)).toEqual(['PLAINTEXT', 'INTERNAL']);
    expect(c.interBrokerListener).toEqual({ name: 'INTERNAL', securityProtocol: 'PLAINTEXT' });
  });

  it('controller listeners map to PLAINTEXT implicitly only when the protocol map is left at its default', () => {
    expect(BrokerConfig.fromStatic(COMBINED).listenerSecurityProtocolMap.get('CONTROLLER')).toBe('PLAINTEXT');
    expect(messages({ ...COMBINED, 'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT' })).toContain(
      'No security protocol defined for listener CONTROLLER',
    );
  });

  it('advertised.listeners replaces listeners for clients, minus controller listeners', () => {
    const c = BrokerConfig.fromStatic({ ...COMBINED, 'advertised.listeners': 'PLAINTEXT://broker-0.example:9092,CONTROLLER://broker-0.example:9093' });
    expect(c.advertisedBrokerListeners).toEqual([{ name: 'PLAINTEXT', host: 'broker-0.example', port: 9092, securityProtocol: 'PLAINTEXT' }]);
  });

  it('the admin HTTP listener, or null when disabled', () => {
    expect(BrokerConfig.fromStatic(COMBINED).httpListener).toEqual({ host: '127.0.0.1', port: 9644 });
    expect(BrokerConfig.fromStatic({ ...COMBINED, 'millrace.http.enable': 'false' }).httpListener).toBeNull();
    expect(BrokerConfig.fromStatic({ ...COMBINED, 'millrace.http.listener': '[::]:8080' }).httpListener).toEqual({ host: '::', port: 8080 });
  });

  it('typed get returns parsed values (bigint longs, lists, nullables)', () => {
    const c = BrokerConfig.fromStatic(COMBINED);
    expectTypeOf(c.get('num.partitions')).toEqualTypeOf<number>();
    expectTypeOf(c.get('broker.rack')).toEqualTypeOf<string | null>();
    expectTypeOf(c.get('log.retention.ms')).toEqualTypeOf<bigint | null>();
    expectTypeOf(c.get('process.roles')).toEqualTypeOf<readonly string[]>();
    // @ts-expect-error: not a broker config key
    expect(() => c.get('no.such.key')).toThrow();
    expect(c.get('log.flush.interval.messages')).toBe(9223372036854775807n);
    expect(c.get('log.cleanup.policy')).toEqual(['delete']);
    expect(c.get('broker.rack')).toBeNull();
    expect(c.get('log.cleaner.min.cleanable.ratio')).toBe(0.5);
    expect(c.offsetsRetentionMs).toBe(10080 * 60_000);
  });
});

describe('node.id and broker.id', () => {
  it('either one sets the other', () => {
    const { 'node.id': _nodeId, ...withoutNodeId } = COMBINED;
    const c = BrokerConfig.fromStatic({ ...withoutNodeId, 'broker.id': '1' });
    expect(c.nodeId).toBe(1);
    expect(BrokerConfig.fromStatic(COMBINED).get('broker.id')).toBe(1);
  });

  it('both set and different is an error', () => {
    expect(messages({ ...COMBINED, 'broker.id': '2' })).toContain('You must set `node.id` to the same value as `broker.id`.');
  });
});

describe('KRaft role rules', () => {
  it('process.roles and node.id are required', () => {
    const problems = problemsOf({});
    expect(problems.filter((p) => p.code === 'CONFIG_MISSING_REQUIRED').map((p) => p.key)).toEqual(['process.roles', 'node.id']);
  });

  it('needs voters or bootstrap servers, and controller listener names', () => {
    const m = messages({ 'process.roles': 'broker', 'node.id': '2' });
    expect(m).toContain(
      'If using process.roles, either controller.quorum.bootstrap.servers must contain the set of bootstrap controllers or controller.quorum.voters must contain a parseable set of voters.',
    );
    expect(m).toContain('controller.listener.names must contain at least one value when running KRaft with just the broker role');
  });

  it('a broker-only node is not a voter and does not serve the controller listener', () => {
    const m = messages({ ...COMBINED, 'process.roles': 'broker' });
    expect(m).toContain("If process.roles contains just the 'broker' role, the node id 1 must not be included in the set of voters controller.quorum.voters=1");
    expect(m).toContain("controller.listener.names must not contain a value appearing in the 'listeners' configuration when running KRaft with just the broker role");
  });

  it('a valid broker-only node', () => {
    const c = BrokerConfig.fromStatic({
      'process.roles': 'broker',
      'node.id': '2',
      'controller.quorum.voters': '1@controller-0:9093',
      'controller.listener.names': 'CONTROLLER',
      listeners: 'PLAINTEXT://:9092',
    });
    expect(c.isBroker && !c.isController).toBe(true);
  });

  it('a controller must be a voter and serve its controller listener', () => {
    const m = messages({ ...COMBINED, 'node.id': '2', listeners: 'PLAINTEXT://:9092' });
    expect(m).toContain("If process.roles contains the 'controller' role, the node id 2 must be included in the set of voters controller.quorum.voters=1");
    expect(m).toContain("controller.listener.names must contain at least one value appearing in the 'listeners' configuration when running the KRaft controller role");
  });

  it('a controller-only node listens only on controller listeners', () => {
    expect(messages({ ...COMBINED, 'process.roles': 'controller' })).toContain(
      'The listeners config must only contain KRaft controller listeners from controller.listener.names when process.roles=controller',
    );
    expect(() => BrokerConfig.fromStatic({ ...COMBINED, 'process.roles': 'controller', listeners: 'CONTROLLER://:9093' })).not.toThrow();
  });

  it('duplicate roles are refused', () => {
    expect(messages({ ...COMBINED, 'process.roles': 'broker,broker' })).toContain('Duplicate role names found in `process.roles`: broker,broker');
  });
});

describe('listener rules', () => {
  it('inter.broker.listener.name must be advertised, and excludes security.inter.broker.protocol', () => {
    expect(messages({ ...COMBINED, 'inter.broker.listener.name': 'CONTROLLER' })[0]).toMatch(/^inter.broker.listener.name must be a listener name defined in advertised.listeners/);
    expect(messages({ ...COMBINED, 'inter.broker.listener.name': 'PLAINTEXT', 'security.inter.broker.protocol': 'PLAINTEXT' })).toContain(
      'Only one of inter.broker.listener.name and security.inter.broker.protocol should be set.',
    );
  });

  it('advertised listeners must be listeners, and not 0.0.0.0', () => {
    expect(messages({ ...COMBINED, 'advertised.listeners': 'PLAINTEXT://0.0.0.0:9092' })).toContain(
      'advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. Use a routable IP address.',
    );
    expect(messages({ ...COMBINED, 'advertised.listeners': 'PLAINTEXT://a:9092,OTHER://b:9094', 'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT,CONTROLLER:PLAINTEXT' })[0]).toMatch(
      /^advertised.listeners listener names must be equal to or a subset of the ones defined in listeners. Found OTHER/,
    );
  });

  it('syntax errors in listeners are value errors naming the entry', () => {
    const problems = problemsOf({ ...COMBINED, listeners: 'PLAINTEXT:/host:9092' });
    expect(problems[0]).toMatchObject({ code: 'CONFIG_INVALID_VALUE', key: 'listeners' });
    expect(problems[0]?.message).toContain('Unable to parse PLAINTEXT:/host:9092 to a broker endpoint');
    // The listener rules that read `listeners` are skipped: one mistake, one message.
    expect(problems).toHaveLength(1);
  });

  it('the admin HTTP port may not clash with a listener', () => {
    expect(messages({ ...COMBINED, 'millrace.http.listener': '0.0.0.0:9092' })).toContain('millrace.http.listener port 9092 is also bound by listener PLAINTEXT');
  });
});

describe('other cross-key rules', () => {
  it.each([
    [{ 'log.roll.ms': '0' }, 'log.roll.ms must be greater than or equal to 1'],
    [{ 'log.retention.ms': '0' }, 'log.retention.ms must be unlimited (-1) or, greater than or equal to 1'],
    [{ 'log.dirs': ' , ' }, 'At least one log directory must be defined via log.dirs or log.dir.'],
    [{ 'log.cleaner.dedupe.buffer.size': '1048576' }, 'log.cleaner.dedupe.buffer.size must be at least 1MB per cleaner thread.'],
    [{ 'replica.fetch.wait.max.ms': '40000' }, 'replica.socket.timeout.ms should always be at least replica.fetch.wait.max.ms to prevent unnecessary socket timeouts'],
    [{ 'queued.max.request.bytes': '10' }, 'queued.max.request.bytes must be larger or equal to socket.request.max.bytes'],
    [{ 'group.consumer.session.timeout.ms': '70000' }, 'group.consumer.session.timeout.ms must be less than or equals to group.consumer.max.session.timeout.ms'],
    [{ 'max.connections.per.ip': '0' }, 'max.connections.per.ip can be set to zero only if max.connections.per.ip.overrides property is set.'],
  ])('%o', (extra, message) => {
    expect(messages({ ...COMBINED, ...extra })).toContain(message);
  });
});

describe('dynamic configs', () => {
  const config = BrokerConfig.fromStatic({ ...COMBINED, 'log.retention.hours': '24' });

  it('per-broker beats cluster default beats static beats default', () => {
    const { config: dyn, rejected } = config.withDynamicConfigs({
      clusterDefault: new Map([
        ['log.retention.ms', '1000'],
        ['log.segment.bytes', '2097152'],
      ]),
      perBroker: new Map([['log.segment.bytes', '3145728']]),
    });
    expect(rejected).toEqual([]);
    expect(dyn.logRetentionMs).toBe(1000);
    expect(dyn.source('log.retention.ms')).toBe(ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG);
    expect(dyn.get('log.segment.bytes')).toBe(3145728);
    expect(dyn.source('log.segment.bytes')).toBe(ConfigSource.DYNAMIC_BROKER_CONFIG);
    expect(dyn.source('log.retention.hours')).toBe(ConfigSource.STATIC_BROKER_CONFIG);
    // The original is unchanged.
    expect(config.logRetentionMs).toBe(24 * 3_600_000);
  });

  it('skips and reports read-only keys, per-broker keys at cluster level, unknown keys and bad values', () => {
    const { config: dyn, rejected } = config.withDynamicConfigs({
      clusterDefault: new Map([
        ['num.partitions', '3'],
        ['listeners', 'PLAINTEXT://:1'],
        ['nope', '1'],
        ['log.segment.bytes', '1'],
      ]),
    });
    expect(rejected.map((p) => [p.code, p.key])).toEqual([
      ['CONFIG_NOT_DYNAMIC', 'num.partitions'],
      ['CONFIG_NOT_DYNAMIC', 'listeners'],
      ['CONFIG_UNKNOWN_KEY', 'nope'],
      ['CONFIG_INVALID_VALUE', 'log.segment.bytes'],
    ]);
    expect(dyn.get('num.partitions')).toBe(1);
  });

  it('validateBrokerConfigUpdate answers with Kafka errors', () => {
    expect(validateBrokerConfigUpdate(config, 'broker', new Map([['num.partitions', '3'], ['log.dirs', '/x']]))).toEqual({
      ok: false,
      errorCode: KAFKA_ERROR_INVALID_CONFIG,
      errorMessage: 'Cannot update these configs dynamically: [num.partitions, log.dirs]',
    });
    expect(validateBrokerConfigUpdate(config, 'cluster-default', new Map([['listeners', 'PLAINTEXT://:9092']]))).toMatchObject({
      ok: false,
      errorMessage: 'Cannot update these configs at default cluster level, broker id must be specified: [listeners]',
    });
    expect(validateBrokerConfigUpdate(config, 'cluster-default', new Map([['log.retention.ms', '0']]))).toMatchObject({
      ok: false,
      errorMessage: 'log.retention.ms must be unlimited (-1) or, greater than or equal to 1',
    });
    expect(validateBrokerConfigUpdate(config, 'broker', new Map([['log.retention.ms', '5000']]))).toMatchObject({ ok: true });
  });

  it('incrementalAlterBrokerConfigs applies list operations to the dynamic layer', () => {
    const result = incrementalAlterBrokerConfigs(config, 'cluster-default', [{ name: 'log.cleanup.policy', op: AlterConfigOp.APPEND, value: 'compact' }]);
    expect(result).toEqual({ ok: true, configs: new Map([['log.cleanup.policy', 'delete,compact']]) });
    expect(incrementalAlterBrokerConfigs(config, 'broker', [{ name: 'x', op: 9, value: '1' }])).toMatchObject({ errorCode: KAFKA_ERROR_INVALID_REQUEST });
  });
});

describe('DescribeConfigs for a broker', () => {
  const layers = {
    static: staticLayer({ ...COMBINED, 'log.retention.hours': '24', 'log.segment.bytes': '2097152' }),
    dynamicClusterDefault: new Map([
      ['log.retention.ms', '5000'],
      ['log.segment.bytes', '3145728'],
    ]),
    dynamicPerBroker: new Map([['log.segment.bytes', '4194304']]),
  };
  const config = BrokerConfig.build(layers).config as BrokerConfig;

  it('lists synonyms source by source, highest precedence first', () => {
    const [entry] = config.describe({ resource: 'broker', names: ['log.segment.bytes'], includeSynonyms: true });
    expect(entry).toMatchObject({ name: 'log.segment.bytes', value: '4194304', configSource: ConfigSource.DYNAMIC_BROKER_CONFIG, readOnly: false, configType: 3 });
    expect(entry?.synonyms).toEqual([
      { name: 'log.segment.bytes', value: '4194304', source: ConfigSource.DYNAMIC_BROKER_CONFIG },
      { name: 'log.segment.bytes', value: '3145728', source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG },
      { name: 'log.segment.bytes', value: '2097152', source: ConfigSource.STATIC_BROKER_CONFIG },
      { name: 'log.segment.bytes', value: '1073741824', source: ConfigSource.DEFAULT_CONFIG },
    ]);
  });

  it('includes the retention synonyms, dropping those ranked before the described key', () => {
    const [ms, hours] = config.describe({ resource: 'broker', names: ['log.retention.ms', 'log.retention.hours'], includeSynonyms: true });
    expect(ms?.synonyms).toEqual([
      { name: 'log.retention.ms', value: '5000', source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG },
      { name: 'log.retention.hours', value: '24', source: ConfigSource.STATIC_BROKER_CONFIG },
      { name: 'log.retention.hours', value: '168', source: ConfigSource.DEFAULT_CONFIG },
    ]);
    expect(hours?.synonyms).toEqual([
      { name: 'log.retention.hours', value: '24', source: ConfigSource.STATIC_BROKER_CONFIG },
      { name: 'log.retention.hours', value: '168', source: ConfigSource.DEFAULT_CONFIG },
    ]);
    expect(hours).toMatchObject({ readOnly: true, configSource: ConfigSource.STATIC_BROKER_CONFIG });
  });

  it('describes unset keys as defaults, with no synonyms when nothing has a value', () => {
    const [rack] = config.describe({ resource: 'broker', names: ['broker.rack'], includeSynonyms: true, includeDocumentation: true });
    expect(rack).toMatchObject({ value: null, configSource: ConfigSource.DEFAULT_CONFIG, isDefault: true, synonyms: [] });
    expect(rack?.documentation).toContain('Rack');
  });

  it('the cluster-default resource lists only the dynamic defaults', () => {
    const entries = config.describe({ resource: 'cluster-default', includeSynonyms: true });
    expect(entries.map((e) => [e.name, e.value, e.configSource])).toEqual([
      ['log.retention.ms', '5000', ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG],
      ['log.segment.bytes', '3145728', ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG],
    ]);
    expect(entries[1]?.synonyms).toEqual([{ name: 'log.segment.bytes', value: '3145728', source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG }]);
  });

  it('leaves synonyms out unless asked, and unknown names out always', () => {
    const entries = config.describe({ resource: 'broker', names: ['log.segment.bytes', 'no.such.key'] });
    expect(entries).toHaveLength(1);
    expect(entries[0]?.synonyms).toEqual([]);
    expect(entries[0]?.documentation).toBeNull();
  });
});

describe('listener parsing', () => {
  it('accepts Kafka examples and rejects malformed entries', () => {
    expect(parseEndpointList('PLAINTEXT://myhost:9092,SSL://:9091', true).ok).toBe(true);
    expect(parseEndpointList('CLIENT://0.0.0.0:9092,REPLICATION://localhost:9093', true).ok).toBe(true);
    expect(parseEndpointList('PLAINTEXT://127.0.0.1:9092,SSL://[::1]:9092', true).ok).toBe(true);
    expect(parseEndpointList('A://:9092,B://:9092', true)).toMatchObject({ ok: false });
    expect(parseEndpointList('A://:9092,B://:9092', false).ok).toBe(true);
    expect(parseEndpointList('A://:9092,a://:9093', false)).toMatchObject({ ok: false });
    expect(parseEndpointList('A://:70000', true)).toMatchObject({ ok: false });
    expect(parseEndpointList('localhost:9092', true)).toMatchObject({ ok: false });
  });

  it('parses protocol maps and voters', () => {
    expect(parseSecurityProtocolMap('internal:ssl , EXTERNAL:SASL_SSL')).toEqual({
      ok: true,
      value: new Map([
        ['INTERNAL', 'SSL'],
        ['EXTERNAL', 'SASL_SSL'],
      ]),
    });
    expect(parseSecurityProtocolMap('A:TLS')).toMatchObject({ ok: false });
    expect(parseSecurityProtocolMap('A:SSL,a:SSL')).toMatchObject({ ok: false, reason: 'Duplicate key A in the map' });
    expect(parseVoters(['1@a:9093', '2@[::1]:9093'])).toEqual({
      ok: true,
      value: [
        { id: 1, host: 'a', port: 9093 },
        { id: 2, host: '::1', port: 9093 },
      ],
    });
    expect(parseVoters(['x@a:1'])).toMatchObject({ ok: false });
    expect(parseVoters(['1@a:1', '1@b:2'])).toMatchObject({ ok: false });
    expect(parseVoters(['1@0.0.0.0:1'])).toMatchObject({ ok: false });
  });
});
