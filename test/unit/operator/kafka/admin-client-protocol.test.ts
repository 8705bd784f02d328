/**
 * The admin client's protocol paths against a scripted server (fake-broker.ts): version negotiation and
 * version-aware requests, NOT_CONTROLLER retries, timeouts and dropped connections. The behaviour against
 * the real broker is admin-client.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  defaultCreateTopicsResponse, defaultDeleteTopicsResponse, defaultMetadataResponse,
  type CreateTopicsRequest, type DeleteTopicsRequest, type MetadataRequest,
} from '../../../../broker/src/protocol/generated/index.ts';
import { ZERO_UUID } from '../../../../broker/src/protocol/wire/uuid.ts';
import { KafkaAdminClient, KafkaAdminError } from '../../../../operator/src/kafka/admin-client.ts';
import { parseBrokerAddress, formatBrokerAddress } from '../../../../operator/src/kafka/addresses.ts';
import { negotiateVersion } from '../../../../operator/src/kafka/versions.ts';
import { startFakeBroker, type FakeBroker, type Reply } from './fake-broker.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(options: Parameters<typeof startFakeBroker>[0], clientOptions: Partial<ConstructorParameters<typeof KafkaAdminClient>[0]> = {}): Promise<{ fake: FakeBroker; admin: KafkaAdminClient }> {
  const fake = await startFakeBroker(options);
  cleanups.push(() => fake.close());
  const admin = new KafkaAdminClient({ bootstrapServers: [`127.0.0.1:${fake.port}`], retryBackoffMs: 10, ...clientOptions });
  cleanups.push(() => admin.close());
  return { fake, admin };
}

const created = (names: readonly string[], errorFor: (name: string) => number = () => 0): Reply => ({
  response: {
    ...defaultCreateTopicsResponse(),
    topics: names.map((name) => ({
      name, topicId: errorFor(name) === 0 ? 'AAAAAAAAAAAAAAAAAAAAAg' : ZERO_UUID, errorCode: errorFor(name), errorMessage: errorFor(name) === 0 ? null : `error ${errorFor(name)}`,
      topicConfigErrorCode: 0, numPartitions: 1, replicationFactor: 1, configs: null,
    })),
  },
});

describe('addresses and versions', () => {
  it('parses host:port and [ipv6]:port, and names a bad entry', () => {
    expect(parseBrokerAddress('kafka-0.kafka:9092')).toEqual({ host: 'kafka-0.kafka', port: 9092 });
    expect(parseBrokerAddress('[::1]:9093')).toEqual({ host: '::1', port: 9093 });
    expect(formatBrokerAddress({ host: '::1', port: 9093 })).toBe('[::1]:9093');
    for (const bad of ['kafka', 'kafka:0', 'kafka:70000', '::1:9092', 'a b:1', '']) {
      expect(() => parseBrokerAddress(bad), bad).toThrow(/is not host:port/);
    }
    expect(() => new KafkaAdminClient({ bootstrapServers: [] })).toThrow(/at least one bootstrap server/);
  });

  it('picks the highest version inside both ranges', () => {
    expect(negotiateVersion(19, { min: 2, max: 7 })).toBe(7);
    expect(negotiateVersion(19, { min: 0, max: 4 })).toBe(4);
    expect(negotiateVersion(19, { min: 8, max: 9 })).toBeNull();
    expect(negotiateVersion(19, undefined)).toBeNull();
  });
});

describe('KafkaAdminClient protocol', () => {
  it('builds requests for the versions an old broker supports', async () => {
    const { fake, admin } = await setup({
      ranges: new Map([[3, { min: 0, max: 3 }], [19, { min: 0, max: 0 }], [20, { min: 0, max: 5 }]]),
      handle: (apiKey, _v, request) => {
        if (apiKey === 3 && (request as MetadataRequest).topics === null) {
          return { response: { ...defaultMetadataResponse(), controllerId: 1, brokers: [{ nodeId: 1, host: '127.0.0.1', port: fake.port, rack: null }] } };
        }
        if (apiKey === 19) return created((request as CreateTopicsRequest).topics.map((t) => t.name));
        if (apiKey === 20) return { response: { ...defaultDeleteTopicsResponse(), responses: (request as DeleteTopicsRequest).topicNames.map((name) => ({ name, topicId: ZERO_UUID, errorCode: 0, errorMessage: null })) } };
        return undefined;
      },
    });
    // Metadata v3: asking for topics by name could auto-create them, so the client asks for all topics.
    const [missing] = await admin.describeTopics(['absent']);
    expect(missing?.error?.errorName).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    const metadata = fake.received.filter((r) => r.apiKey === 3);
    expect(metadata.every((r) => r.apiVersion === 3)).toBe(true);
    expect((metadata.at(-1)?.request as MetadataRequest).topics).toBeNull();

    expect(await admin.createTopics([{ name: 'a', partitions: 1, replicationFactor: 1 }])).toEqual([{ name: 'a', topicId: null }]);
    expect(fake.received.find((r) => r.apiKey === 19)?.apiVersion).toBe(0);
    // validateOnly does not exist in CreateTopics v0: refused before sending, naming the version.
    const refused = await admin.createTopics([{ name: 'b', partitions: 1, replicationFactor: 1 }], { validateOnly: true }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(KafkaAdminError);
    expect((refused as KafkaAdminError).errorName).toBe('UNSUPPORTED_VERSION');
    expect((refused as KafkaAdminError).message).toMatch(/CreateTopics at broker 1 \(127\.0\.0\.1:\d+\) failed: UNSUPPORTED_VERSION: .*CreateTopics v0/);

    // DeleteTopics v5 names topics in TopicNames (v6 moved them to Topics).
    expect(await admin.deleteTopics(['a'])).toEqual([{ name: 'a' }]);
    const del = fake.received.find((r) => r.apiKey === 20);
    expect(del?.apiVersion).toBe(5);
    expect((del?.request as DeleteTopicsRequest).topicNames).toEqual(['a']);
  });

  it('reads the ranges from the v0 body of an UNSUPPORTED_VERSION ApiVersions answer', async () => {
    const { fake, admin } = await setup({ apiVersionsMax: 2, ranges: new Map([[19, { min: 0, max: 7 }]]), handle: (apiKey, _v, request) => (apiKey === 19 ? created((request as CreateTopicsRequest).topics.map((t) => t.name)) : undefined) });
    expect((await admin.createTopics([{ name: 'a', partitions: 1, replicationFactor: 1 }]))[0]?.error).toBeUndefined();
    expect(fake.received.find((r) => r.apiKey === 19)?.apiVersion).toBe(7);
  });

  it('names both ranges when there is no common version', async () => {
    const { admin } = await setup({ ranges: new Map([[19, { min: 8, max: 9 }]]) });
    await expect(admin.createTopics([{ name: 'a', partitions: 1, replicationFactor: 1 }])).rejects.toThrow(
      /CreateTopics at broker 1 \(127\.0\.0\.1:\d+\) failed: UNSUPPORTED_VERSION: no common version: the broker supports CreateTopics versions 8-9, this client 0-7/,
    );
  });

  it('retries the items answered NOT_CONTROLLER after refreshing metadata, and only those', async () => {
    let calls = 0;
    const { fake, admin } = await setup({
      ranges: new Map([[19, { min: 0, max: 7 }]]),
      handle: (apiKey, _v, request) => {
        if (apiKey !== 19) return undefined;
        calls++;
        const names = (request as CreateTopicsRequest).topics.map((t) => t.name);
        return created(names, (name) => (calls === 1 ? (name === 'a' ? 41 : 36) : 0));
      },
    });
    const results = await admin.createTopics([{ name: 'a', partitions: 1, replicationFactor: 1 }, { name: 'b', partitions: 1, replicationFactor: 1 }]);
    expect(results[0]?.error).toBeUndefined();
    expect(results[1]?.error?.errorName).toBe('TOPIC_ALREADY_EXISTS');
    const creates = fake.received.filter((r) => r.apiKey === 19).map((r) => (r.request as CreateTopicsRequest).topics.map((t) => t.name));
    expect(creates).toEqual([['a', 'b'], ['a']]);
    expect(fake.received.filter((r) => r.apiKey === 3).length).toBeGreaterThanOrEqual(2);
  });

  it('settles items still answered NOT_CONTROLLER at the deadline with that error, without throwing', async () => {
    const { admin } = await setup(
      { ranges: new Map([[19, { min: 0, max: 7 }]]), handle: (apiKey, _v, request) => (apiKey === 19 ? created((request as CreateTopicsRequest).topics.map((t) => t.name), () => 41) : undefined) },
      { operationTimeoutMs: 300 },
    );
    const [result] = await admin.createTopics([{ name: 'a', partitions: 1, replicationFactor: 1 }]);
    expect(result?.error?.errorName).toBe('NOT_CONTROLLER');
    expect(result?.error?.message).toMatch(/^CreateTopics for "a" at broker 1 \(127\.0\.0\.1:\d+\) failed: NOT_CONTROLLER: error 41$/);
  });

  it('times out a broker that never answers, closes the connection and says so', async () => {
    const { admin } = await setup({ ranges: new Map([[19, { min: 0, max: 7 }]]), handle: (apiKey) => (apiKey === 19 ? 'hang' : undefined) }, { requestTimeoutMs: 200, operationTimeoutMs: 700 });
    const started = Date.now();
    const error = await admin.createTopics([{ name: 'a', partitions: 1, replicationFactor: 1 }]).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(error).toBeInstanceOf(KafkaAdminError);
    expect((error as KafkaAdminError).errorName).toBe('REQUEST_TIMED_OUT');
    expect((error as KafkaAdminError).message).toMatch(/CreateTopics at broker 1 \(127\.0\.0\.1:\d+\) failed: REQUEST_TIMED_OUT: no response within \d+ ms \(gave up after \d+ attempt\(s\) in \d+ ms\)/);
  });

  it('reconnects and retries when the connection drops mid-request', async () => {
    let calls = 0;
    const { fake, admin } = await setup({
      ranges: new Map([[19, { min: 0, max: 7 }]]),
      handle: (apiKey, _v, request) => {
        if (apiKey !== 19) return undefined;
        calls++;
        return calls === 1 ? 'close' : created((request as CreateTopicsRequest).topics.map((t) => t.name));
      },
    });
    const [result] = await admin.createTopics([{ name: 'a', partitions: 1, replicationFactor: 1 }]);
    expect(result).toEqual({ name: 'a', topicId: 'AAAAAAAAAAAAAAAAAAAAAg' });
    // Two connections: the dropped one and its replacement, each starting with ApiVersions.
    expect(fake.received.filter((r) => r.apiKey === 18).length).toBe(2);
  });

  it('makes no request for an empty batch, and refuses calls after close', async () => {
    const { fake, admin } = await setup({});
    expect(await admin.createTopics([])).toEqual([]);
    expect(await admin.describeTopics([])).toEqual([]);
    expect(fake.received).toEqual([]);
    await admin.close();
    await expect(admin.describeTopics(['a'])).rejects.toThrow(/Metadata: the Kafka admin client is closed/);
  });
});
