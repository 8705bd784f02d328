import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseJavaProperties } from '../../../broker/src/config/java-properties.ts';
import { loadBrokerConfig } from '../../../broker/src/config/load-broker-config.ts';
import {
  FORBIDDEN_CONFIG_KEYS,
  isForbiddenConfigKey,
  validateKafkaCluster,
  validationCondition,
} from '../../../operator/src/api/validate-kafka-cluster.ts';
import { escapePropertiesKey, escapePropertiesValue, renderServerProperties } from '../../../operator/src/specs/server-properties.ts';
import { BROKERS, CONTROLLERS, threeByThree } from './fixtures.ts';

const reasons = (config: Record<string, string | number | boolean>): string[] =>
  validateKafkaCluster(threeByThree({ config })).problems.map((p) => p.reason);

describe('validateKafkaCluster', () => {
  it('accepts the 3-controller / 3-broker fixture', () => {
    expect(validateKafkaCluster(threeByThree())).toEqual({ valid: true, problems: [] });
  });

  it.each([...FORBIDDEN_CONFIG_KEYS, 'controller.quorum.voters', 'controller.quorum.election.timeout.ms', 'controller.quorum.bootstrap.servers'])(
    'refuses the operator-owned key %s',
    (key) => {
      const result = validateKafkaCluster(threeByThree({ config: { [key]: 'x' } }));
      expect(result.valid).toBe(false);
      expect(result.problems).toEqual([{ reason: 'ForbiddenConfigKey', path: `spec.config[${JSON.stringify(key)}]`, message: `${key} is set by the operator and cannot be configured` }]);
    },
  );

  it('covers the keys named in the operator note', () => {
    for (const key of ['node.id', 'process.roles', 'listeners', 'advertised.listeners', 'log.dirs', 'controller.quorum.voters']) {
      expect(isForbiddenConfigKey(key)).toBe(true);
    }
    expect(isForbiddenConfigKey('log.retention.ms')).toBe(false);
  });

  it('refuses unknown keys and values the broker would refuse at startup', () => {
    expect(reasons({ 'log.retention.hourz': 1 })).toEqual(['UnknownConfigKey']);
    expect(reasons({ 'min.insync.replicas': 0 })).toEqual(['InvalidConfigValue']);
    expect(reasons({ 'compression.type': 'brotli' })).toEqual(['InvalidConfigValue']);
    expect(reasons({ 'auto.create.topics.enable': 'maybe' })).toEqual(['InvalidConfigValue']);
    const nested = validateKafkaCluster(threeByThree({ config: { 'num.partitions': { a: 1 } as unknown as string } }));
    expect(nested.problems.map((p) => p.reason)).toEqual(['InvalidConfigValue']);
  });

  it('needs a controller pool and a broker pool with replicas', () => {
    const noBrokers = validateKafkaCluster(threeByThree({ nodePools: [CONTROLLERS, { ...BROKERS, replicas: 0 }] }));
    expect(noBrokers.problems.map((p) => p.reason)).toEqual(['NoBrokerPool']);
    const noControllers = validateKafkaCluster(threeByThree({ nodePools: [BROKERS] }));
    expect(noControllers.problems.map((p) => p.reason)).toEqual(['NoControllerPool']);
  });

  it('refuses overlapping node id ranges, duplicate pools and names too long for a StatefulSet', () => {
    const overlap = validateKafkaCluster(threeByThree({ nodePools: [CONTROLLERS, { ...BROKERS, nodeIdOffset: 2 }] }));
    expect(overlap.problems.map((p) => p.reason)).toEqual(['NodeIdOverlap']);
    expect(overlap.problems[0]?.message).toContain('[0, 3)');
    const adjacent = validateKafkaCluster(threeByThree({ nodePools: [CONTROLLERS, { ...BROKERS, nodeIdOffset: 3 }] }));
    expect(adjacent.valid).toBe(true);
    const dup = validateKafkaCluster(threeByThree({ nodePools: [CONTROLLERS, BROKERS, { ...BROKERS, nodeIdOffset: 200 }] }));
    expect(dup.problems.map((p) => p.reason)).toEqual(['DuplicatePoolName']);
    const long = validateKafkaCluster(threeByThree({ nodePools: [CONTROLLERS, { ...BROKERS, name: 'b'.repeat(50) }] }));
    expect(long.problems.map((p) => p.reason)).toEqual(['InvalidName']);
  });

  it('refuses listener ports the operator owns and ports used twice', () => {
    const reserved = validateKafkaCluster(threeByThree({ listeners: [{ name: 'plain', port: 9093, type: 'internal' }] }));
    expect(reserved.problems.map((p) => p.message)).toEqual(["port 9093 is the operator's controller port"]);
    const twice = validateKafkaCluster(threeByThree({ listeners: [{ name: 'a', port: 9092, type: 'internal' }, { name: 'b', port: 9092, type: 'internal' }] }));
    expect(twice.problems.map((p) => p.reason)).toEqual(['InvalidListener']);
  });

  it('turns problems into one NotReady condition with the first reason and every message', () => {
    const result = validateKafkaCluster(threeByThree({ config: { 'node.id': 1, 'log.retention.hourz': 1 } }));
    const now = new Date('2026-01-02T03:04:05Z');
    expect(validationCondition(result, 4, now)).toEqual({
      type: 'NotReady',
      status: 'True',
      reason: 'UnknownConfigKey',
      message: 'spec.config["log.retention.hourz"]: log.retention.hourz is not a broker config key; spec.config["node.id"]: node.id is set by the operator and cannot be configured',
      lastTransitionTime: '2026-01-02T03:04:05.000Z',
      observedGeneration: 4,
    });
    expect(validationCondition(validateKafkaCluster(threeByThree()), 4, now)).toBeNull();
  });
});

describe('server.properties escaping', () => {
  it('round-trips any key and value through the broker\'s properties reader', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string(), (key, value) => {
        const parsed = parseJavaProperties(`${escapePropertiesKey(key)}=${escapePropertiesValue(value)}\n`);
        expect(parsed.errors).toEqual([]);
        expect(parsed.entries.map((e) => [e.key, e.value])).toEqual([[key, value]]);
      }),
      { numRuns: 500 },
    );
  });

  it('leaves node.id to the environment: without MILLRACE_NODE_ID the broker refuses the file', () => {
    const text = renderServerProperties(threeByThree(), CONTROLLERS);
    let problems: unknown = null;
    try {
      loadBrokerConfig({ propertiesFile: 'server.properties', readFile: () => text, env: {} });
    } catch (error) {
      problems = (error as { problems?: unknown }).problems;
    }
    expect(problems).toEqual([expect.objectContaining({ code: 'CONFIG_MISSING_REQUIRED', key: 'node.id' })]);
  });
});
