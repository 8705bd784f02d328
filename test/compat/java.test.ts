// The Apache Kafka Java client 4.0 (kafka-clients from Maven Central) against a real Millrace broker.
// Java negotiates the highest version both sides support and needs at least Produce 3, Fetch 4,
// ListOffsets 1, OffsetForLeaderEpoch 2; its producer is idempotent by default (InitProducerId).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_CODECS, TestBroker } from './helpers/broker.ts';
import { ProgramClient, programAdminTest, programGroupTest, programRebalanceTest, programRestartTest, programRoundTrip } from './helpers/program.ts';
import { createTopicFixture } from './helpers/fixtures.ts';
import { makeRecords } from './helpers/records.ts';
import { javaClient } from './helpers/tools.ts';

const CLIENT = 'java';
const MAX_MESSAGE_BYTES = 10_000;

let broker: TestBroker;
let client: ProgramClient;

beforeAll(async () => {
  const java = javaClient();
  broker = await TestBroker.start(CLIENT, { 'auto.create.topics.enable': 'false' });
  client = new ProgramClient(CLIENT, java.java, ['-XX:TieredStopAtLevel=1', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-cp', java.classpath, 'CompatClient'], broker);
});

afterAll(async () => {
  await broker?.stop();
});

describe('java (kafka-clients 4.0)', () => {
  it('admin: createTopics of a new topic', async () => {
    await client.createOk('java-created', 2);
    const md = await client.metadata(['java-created']);
    expect(md.topics.map((t) => ({ name: t.name, partitions: t.partitions.length })), `[${CLIENT}] the created topic in metadata`).toEqual([{ name: 'java-created', partitions: 2 }]);
  });

  it('metadata: cluster id, brokers, controller, topics', async () => {
    await createTopicFixture(broker, 'java-meta', 3);
    const md = await client.metadata(['java-meta']);
    expect({ ...md, listed: md.listed.filter((t) => t !== 'java-created') }, `[${CLIENT}] metadata`).toEqual({
      clusterId: broker.clusterId,
      controller: broker.nodeId,
      brokers: [{ id: broker.nodeId, host: '127.0.0.1', port: broker.port }],
      listed: ['java-meta'],
      topics: [{ name: 'java-meta', internal: false, partitions: [0, 1, 2].map((partition) => ({ partition, leader: broker.nodeId, replicas: [broker.nodeId], isr: [broker.nodeId] })) }],
    });
  });

  for (const codec of ALL_CODECS) {
    it(`produce (idempotent by default) and read back by partition/offset, compression ${codec}`, async () => {
      await programRoundTrip(client, broker, {
        label: `codec ${codec}`, topic: `java-codec-${codec}`, produce: { codec }, expectIdempotent: true,
        records: { nullHeaderValue: true },
      });
    });
  }

  for (const acks of ['0', '1', 'all'] as const) {
    it(`produce with acks=${acks}, idempotence off`, async () => {
      await programRoundTrip(client, broker, {
        label: `acks=${acks}`, topic: `java-acks-${acks}`, produce: { acks, idempotent: false, codec: 'lz4' }, expectIdempotent: false,
        // With acks=0 the client never learns the offsets (it reports -1).
        checkAckOffsets: acks !== '0',
      });
    });
  }

  it('acks=0 reports offset -1 for every record', async () => {
    await createTopicFixture(broker, 'java-acks0-offsets', 1);
    const records = makeRecords({ tag: 'java-acks0-offsets', count: 5, partitions: 1 });
    const results = await client.produce('acks=0 produce', 'java-acks0-offsets', records, { acks: '0', idempotent: false });
    expect(results, `[${CLIENT}] acks=0 results`).toEqual(records.map(() => ({ partition: 0, offset: -1 })));
  });

  it('consumer group (classic protocol): consume, commit, resume from committed offsets', async () => {
    await programGroupTest(client, broker, { topic: 'java-group', group: 'java-group-1', produce: {}, expectedState: 'Empty' });
  });

  it('consumer group of 3 members: partitions split among them, and re-split when one leaves', async () => {
    await programRebalanceTest(client, broker, { topic: 'java-rebalance', group: 'java-rebalance-1' });
  });

  it('admin: describe and alter topic configs, create partitions, delete topic', async () => {
    await programAdminTest(client, 'java-admin', broker.nodeId);
  });

  it('error: unknown topic with auto-create off', async () => {
    const described = await client.run<{ error?: { class: string; kafka: string } }>('describe an unknown topic', 'describe-topic', { topic: 'java-missing' });
    expect(described.error && { class: described.error.class, kafka: described.error.kafka }, `[${CLIENT}] describeTopics of an unknown topic`)
      .toEqual({ class: 'org.apache.kafka.common.errors.UnknownTopicOrPartitionException', kafka: 'UNKNOWN_TOPIC_OR_PARTITION' });
    const results = await client.produce('produce to an unknown topic', 'java-missing', makeRecords({ tag: 'x', count: 1, partitions: 1 }), { extra: { 'max-block-ms': '3000' } });
    // The Java producer waits for the topic to appear in metadata, then gives up.
    expect(results, `[${CLIENT}] produce to an unknown topic`).toEqual([{ error: { class: 'org.apache.kafka.common.errors.TimeoutException', message: 'Topic java-missing not present in metadata after 3000 ms.', kafka: 'REQUEST_TIMED_OUT' } }]);
    const md = await client.metadata();
    expect(md.listed, `[${CLIENT}] the unknown topic was not auto-created`).toEqual(expect.not.arrayContaining(['java-missing']));
  });

  it('error: a record larger than max.message.bytes gets MESSAGE_TOO_LARGE', async () => {
    await createTopicFixture(broker, 'java-too-large', 1, { 'max.message.bytes': String(MAX_MESSAGE_BYTES) });
    const big = makeRecords({ tag: 'java-too-large', count: 1, partitions: 1, binaryValues: true });
    big[0] = { ...big[0]!, value: Buffer.from(Array.from({ length: 2 * MAX_MESSAGE_BYTES }, (_, i) => (i * 7919) % 251)) };
    const results = await client.produce('produce an oversized record', 'java-too-large', big, { codec: 'none' });
    // (The message is the broker's own text when it sends one, so only the class and code are fixed.)
    expect(results.map((r) => ('error' in r ? { class: r.error.class, kafka: r.error.kafka } : r)), `[${CLIENT}] oversized record`)
      .toEqual([{ class: 'org.apache.kafka.common.errors.RecordTooLargeException', kafka: 'MESSAGE_TOO_LARGE' }]);
    const ok = await client.produce('produce a small record after the rejection', 'java-too-large', makeRecords({ tag: 'java-small', count: 1, partitions: 1 }), {});
    expect(ok, `[${CLIENT}] small record after the rejection`).toEqual([{ partition: 0, offset: 0 }]);
  });

  it('error: creating an existing topic gives TOPIC_ALREADY_EXISTS', async () => {
    await createTopicFixture(broker, 'java-exists', 2);
    const again = await client.create('java-exists', 4);
    expect({ class: again.error?.class, kafka: again.error?.kafka }, `[${CLIENT}] create an existing topic`)
      .toEqual({ class: 'org.apache.kafka.common.errors.TopicExistsException', kafka: 'TOPIC_ALREADY_EXISTS' });
    const md = await client.metadata(['java-exists']);
    expect(md.topics[0]?.partitions.length, `[${CLIENT}] the existing topic keeps its 2 partitions`).toBe(2);
  });

  // Last: it restarts the broker.
  it('committed offsets survive a broker restart: a new member resumes exactly there', async () => {
    await programRestartTest(client, broker, { topic: 'java-restart', group: 'java-restart-1', produce: {}, expectedState: 'Empty' });
  });
});
