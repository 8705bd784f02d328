import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BROKER_CONFIG_DEF } from '../../../broker/src/config/broker-config.ts';
import { ConfigSource } from '../../../broker/src/config/config-def.ts';
import { ConfigError, type ConfigProblem } from '../../../broker/src/config/config-error.ts';
import {
  buildEnvIndex,
  envNameFor,
  loadBrokerConfig,
  parseBrokerCommandLine,
  resolveEnvName,
  SINGLE_NODE_SERVER_PROPERTIES,
  type LoadBrokerConfigOptions,
} from '../../../broker/src/config/load-broker-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'millrace-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeProperties(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const base = writeProperties('base.properties', SINGLE_NODE_SERVER_PROPERTIES);

/** Loads expecting failure; returns the problems. */
function problemsOf(options: LoadBrokerConfigOptions): readonly ConfigProblem[] {
  try {
    loadBrokerConfig(options);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

/** Kafka 4.x config/server.properties (comments trimmed): must load unchanged. */
const KAFKA_STOCK_SERVER_PROPERTIES = `
############################# Server Basics #############################
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:9093

############################# Socket Server Settings #############################
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
inter.broker.listener.name=PLAINTEXT
advertised.listeners=PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600

############################# Log Basics #############################
log.dirs=/tmp/kraft-combined-logs
num.partitions=1
num.recovery.threads.per.data.dir=1

############################# Internal Topic Settings  #############################
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1

############################# Log Retention Policy #############################
log.retention.hours=168
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
`;

describe('loadBrokerConfig', () => {
  it('loads the single-node properties with no warnings', () => {
    const { config, warnings } = loadBrokerConfig({ propertiesFile: base, env: {} });
    expect(warnings).toEqual([]);
    expect(config.processRoles).toEqual(['broker', 'controller']);
    expect(config.nodeId).toBe(1);
    expect(config.logDirs).toEqual(['/tmp/millrace-logs']);
    expect(config.quorumVoters).toEqual([{ id: 1, host: '127.0.0.1', port: 9093 }]);
  });

  it("loads Kafka's stock server.properties and warns about keys that do nothing here", () => {
    const path = writeProperties('kafka.properties', KAFKA_STOCK_SERVER_PROPERTIES);
    const { config, warnings } = loadBrokerConfig({ propertiesFile: path, env: {} });
    expect(config.get('log.segment.bytes')).toBe(1073741824);
    expect(config.quorumBootstrapServers).toEqual([{ host: 'localhost', port: 9093 }]);
    expect(warnings.some((w) => w.startsWith(`num.network.threads is set (${path}:`))).toBe(true);
    expect(warnings.some((w) => w.startsWith('share.coordinator.state.topic.min.isr is set'))).toBe(true);
  });

  it('precedence is file < environment < --override, and each value keeps its origin', () => {
    const path = writeProperties('precedence.properties', `${SINGLE_NODE_SERVER_PROPERTIES}num.partitions=2\nlog.retention.hours=10\ndefault.replication.factor=1\n`);
    const { config, warnings } = loadBrokerConfig({
      propertiesFile: path,
      env: { MILLRACE_NUM_PARTITIONS: '3', MILLRACE_LOG_RETENTION_HOURS: '20', UNRELATED: 'x' },
      overrides: ['num.partitions=4'],
    });
    expect(config.get('num.partitions')).toBe(4);
    expect(config.origin('num.partitions')).toEqual({ kind: 'flag', index: 0 });
    expect(config.get('log.retention.hours')).toBe(20);
    expect(config.origin('log.retention.hours')).toEqual({ kind: 'env', name: 'MILLRACE_LOG_RETENTION_HOURS' });
    expect(config.origin('default.replication.factor')).toEqual({ kind: 'file', path, line: 17 });
    expect(config.origin('broker.rack')).toEqual({ kind: 'default' });
    // All three sources are static broker config to DescribeConfigs.
    expect(config.source('num.partitions')).toBe(ConfigSource.STATIC_BROKER_CONFIG);
    expect(config.source('log.retention.hours')).toBe(ConfigSource.STATIC_BROKER_CONFIG);
    expect(config.source('broker.rack')).toBe(ConfigSource.DEFAULT_CONFIG);
    expect(warnings).toContain(`num.partitions from ${path}:15 is overridden by environment variable MILLRACE_NUM_PARTITIONS`);
    expect(warnings).toContain('num.partitions from environment variable MILLRACE_NUM_PARTITIONS is overridden by command-line argument 1 (--override)');
  });

  it('the last of several --override flags wins; a value may contain "="', () => {
    const { config } = loadBrokerConfig({
      propertiesFile: base,
      env: {},
      overrides: ['broker.rack=a', 'broker.rack=b=c'],
    });
    expect(config.get('broker.rack')).toBe('b=c');
  });

  it('works from the environment and flags alone, without a file', () => {
    const { config } = loadBrokerConfig({
      env: {
        MILLRACE_PROCESS_ROLES: 'broker,controller',
        MILLRACE_NODE_ID: '7',
        MILLRACE_CONTROLLER_QUORUM_VOTERS: '7@localhost:9093',
        MILLRACE_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      },
      overrides: ['listeners=PLAINTEXT://:9092,CONTROLLER://:9093'],
    });
    expect(config.nodeId).toBe(7);
    expect(config.listeners.map((l) => l.name)).toEqual(['PLAINTEXT', 'CONTROLLER']);
  });

  it('lists every problem at once, each with its key, value, origin and code', () => {
    const path = writeProperties(
      'broken.properties',
      ['process.roles=broker,controller', 'node.id=one', 'log.retension.ms=5', 'num.partitions=0', 'bad=\\uZZZZ', 'log.dirs=/data'].join('\n'),
    );
    const problems = problemsOf({
      propertiesFile: path,
      env: { MILLRACE_COMPRESSION_TYPE: 'brotli', MILLRACE_NOT_A_KEY: '1', MILLRACE_CACHE: '/tmp/cache' },
      overrides: ['no-equals-sign', 'ssl.keystore.location=/x'],
    });
    const byCode = problems.map((p) => [p.code, p.key]);
    expect(byCode).toEqual(
      expect.arrayContaining([
        ['CONFIG_SYNTAX', null],
        ['CONFIG_UNKNOWN_KEY', null],
        ['CONFIG_SYNTAX', null],
        ['CONFIG_INVALID_VALUE', 'node.id'],
        ['CONFIG_UNKNOWN_KEY', 'log.retension.ms'],
        ['CONFIG_INVALID_VALUE', 'num.partitions'],
        ['CONFIG_INVALID_VALUE', 'compression.type'],
        ['CONFIG_UNKNOWN_KEY', 'ssl.keystore.location'],
      ]),
    );
    // One bad value, one problem: node.id is not copied into broker.id.
    expect(problems.filter((p) => p.key === 'node.id' || p.key === 'broker.id')).toHaveLength(1);
    const nodeId = problems.find((p) => p.key === 'node.id');
    expect(nodeId).toMatchObject({ value: 'one', origin: { kind: 'file', path, line: 2 } });
    expect(nodeId?.message).toBe('Invalid value one for configuration node.id: Not a number of type INT. Allowed: an int in [0,...]');
    expect(problems.find((p) => p.key === 'log.retension.ms')?.message).toContain('did you mean "log.retention.ms"?');
    expect(problems.find((p) => p.key === 'compression.type')).toMatchObject({ origin: { kind: 'env', name: 'MILLRACE_COMPRESSION_TYPE' } });
    expect(problems.find((p) => p.key === 'ssl.keystore.location')?.message).toContain('does not support TLS');
    expect(problems.find((p) => p.code === 'CONFIG_SYNTAX' && p.origin?.kind === 'file')).toMatchObject({ origin: { line: 5 } });
    // MILLRACE_CACHE is a tool variable, not a config key: not reported.
    expect(problems.some((p) => p.origin?.kind === 'env' && p.origin.name === 'MILLRACE_CACHE')).toBe(false);
  });

  it('the error message is one readable block naming every problem and what to do', () => {
    try {
      loadBrokerConfig({ env: {}, overrides: ['num.partitions=x'] });
      expect.unreachable();
    } catch (err) {
      const message = (err as Error).message;
      expect(message).toMatch(/^Millrace cannot start: \d+ configuration problems\n/);
      expect(message).toContain('command-line argument 1 (--override): Invalid value x for configuration num.partitions');
      expect(message).toContain('Missing required configuration "node.id" which has no default value [CONFIG_MISSING_REQUIRED]');
      expect(message).toContain('To fix: set it in the properties file');
      expect((err as ConfigError).code).toBe('CONFIG_INVALID');
    }
  });

  it('reports an unreadable file and still checks the other sources', () => {
    const problems = problemsOf({ propertiesFile: join(dir, 'missing.properties'), env: { MILLRACE_NUM_PARTITIONS: 'x' } });
    expect(problems.map((p) => p.code)).toEqual(expect.arrayContaining(['CONFIG_FILE_UNREADABLE', 'CONFIG_INVALID_VALUE', 'CONFIG_MISSING_REQUIRED']));
  });

  it('warns about a key set twice in the file', () => {
    const path = writeProperties('dupe.properties', `${SINGLE_NODE_SERVER_PROPERTIES}broker.rack=a\nbroker.rack=b\n`);
    const { config, warnings } = loadBrokerConfig({ propertiesFile: path, env: {} });
    expect(config.get('broker.rack')).toBe('b');
    expect(warnings).toContain(`broker.rack is set twice in ${path} (lines 15 and 16); line 16 wins`);
  });

  it('suggests the right variable for a misspelled environment name', () => {
    const problems = problemsOf({ propertiesFile: base, env: { MILLRACE_LOG_DIR_S: '/x' } });
    expect(problems[0]?.message).toContain('did you mean');
  });
});

describe('environment variable names', () => {
  it('are MILLRACE_ plus the key upper-cased with dots and dashes as underscores', () => {
    expect(envNameFor('log.dirs')).toBe('MILLRACE_LOG_DIRS');
    expect(envNameFor('millrace.http.listener')).toBe('MILLRACE_MILLRACE_HTTP_LISTENER');
  });

  it('are resolved against the known keys, and a name two keys map to is ambiguous', () => {
    const index = buildEnvIndex(['log.dirs', 'a.b_c', 'a_b.c']);
    expect(resolveEnvName('MILLRACE_LOG_DIRS', index)).toEqual({ kind: 'key', key: 'log.dirs' });
    expect(resolveEnvName('MILLRACE_A_B_C', index)).toEqual({ kind: 'ambiguous', keys: ['a.b_c', 'a_b.c'] });
    expect(resolveEnvName('MILLRACE_NOPE', index)).toEqual({ kind: 'unknown' });
  });

  it('no two real keys share a variable name', () => {
    const index = buildEnvIndex(BROKER_CONFIG_DEF.names());
    expect([...index.values()].filter((keys) => keys.length > 1)).toEqual([]);
  });
});

describe('parseBrokerCommandLine', () => {
  it('takes a properties file and --override pairs in either form', () => {
    expect(parseBrokerCommandLine(['server.properties', '--override', 'a=1', '--override=b=2', '--verbose'])).toEqual({
      propertiesFile: 'server.properties',
      overrides: ['a=1', 'b=2'],
      rest: ['--verbose'],
      problems: [],
    });
  });

  it('reports a dangling --override and a second positional argument', () => {
    const parsed = parseBrokerCommandLine(['a.properties', 'b.properties', '--override']);
    expect(parsed.problems.map((p) => p.code)).toEqual(['CONFIG_SYNTAX', 'CONFIG_SYNTAX']);
  });
});
