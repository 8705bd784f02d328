// kafka-python 2.0.2 (Debian python3-kafka) against a real Millrace broker. It probes with ApiVersions v0
// and Metadata v0, guesses the broker's Kafka release from the advertised versions, then uses that
// release's fixed request versions (Produce 7, Fetch 4, ListOffsets 1, Metadata 1, ...). No idempotence.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_CODECS, TestBroker } from './helpers/broker.ts';
import { createTopicFixture } from './helpers/fixtures.ts';
import { ProgramClient, programAdminTest, programGroupTest, programRebalanceTest, programRestartTest, programRoundTrip } from './helpers/program.ts';
import { makeRecords } from './helpers/records.ts';
import { kafkaPython } from './helpers/tools.ts';

const CLIENT = 'kafka-python';
const MAX_MESSAGE_BYTES = 10_000;

let broker: TestBroker;
let client: ProgramClient;

beforeAll(async () => {
  const py = kafkaPython();
  broker = await TestBroker.start(CLIENT, { 'auto.create.topics.enable': 'false' });
  client = new ProgramClient(CLIENT, py.python, [py.script], broker);
});

afterAll(async () => {
  await broker?.stop();
});

const userTopics = (names: readonly string[]): string[] => names.filter((n) => !n.startsWith('__'));

describe('kafka-python 2.0.2', () => {
  it('admin: create a topic, then metadata (cluster id, brokers, controller, topics, guessed release)', async () => {
    await client.createOk('py-meta', 3);
    const md = await client.metadata(['py-meta']);
    expect({ ...md, listed: userTopics(md.listed) }, `[${CLIENT}] metadata`).toEqual({
      clusterId: broker.clusterId,
      controller: broker.nodeId,
      brokers: [{ id: broker.nodeId, host: '127.0.0.1', port: broker.port }],
      listed: ['py-meta'],
      topics: [{ name: 'py-meta', error: 0, internal: false, partitions: [0, 1, 2].map((partition) => ({ partition, leader: broker.nodeId, replicas: [broker.nodeId], isr: [broker.nodeId], error: 0 })) }],
      // kafka-python 2.0.2 knows releases up to 2.4 (2.5+ is reported as 2.4) and picks its fixed versions by it.
      apiVersion: [2, 4, 0],
      clientVersion: '2.0.2',
    });
  });

  for (const codec of ALL_CODECS) {
    it(`produce and read back by partition/offset, compression ${codec}`, async () => {
      await programRoundTrip(client, broker, {
        // (kafka-python refuses header values that are not bytes, so no null header value here.)
        label: `codec ${codec}`, topic: `py-codec-${codec}`, produce: { codec }, expectIdempotent: false,
      });
    });
  }

  for (const acks of ['0', '1', 'all'] as const) {
    it(`produce with acks=${acks}`, async () => {
      await programRoundTrip(client, broker, {
        label: `acks=${acks}`, topic: `py-acks-${acks}`, produce: { acks, codec: 'gzip' }, expectIdempotent: false,
        checkAckOffsets: acks !== '0',
      });
    });
  }

  it('consumer group: consume, commit, resume from committed offsets', async () => {
    await programGroupTest(client, broker, { topic: 'py-group', group: 'py-group-1', produce: {}, expectedState: 'Empty' });
  });

  it('consumer group of 3 members: partitions split among them, and re-split when one leaves', async () => {
    await programRebalanceTest(client, broker, { topic: 'py-rebalance', group: 'py-rebalance-1' });
  });

  it('admin: describe and alter topic configs, create partitions, delete topic', async () => {
    await programAdminTest(client, 'py-admin', broker.nodeId);
  });

  it('error: unknown topic with auto-create off', async () => {
    const md = await client.metadata(['py-missing']);
    expect(md.topics.map((t) => ({ name: t.name, error: t['error'], partitions: t.partitions })), `[${CLIENT}] metadata of an unknown topic (error code 3)`)
      .toEqual([{ name: 'py-missing', error: 3, partitions: [] }]);
    const results = await client.produce('produce to an unknown topic', 'py-missing', makeRecords({ tag: 'x', count: 1, partitions: 1 }), { extra: { 'max-block-ms': '3000' } });
    // kafka-python waits for the topic to appear in metadata, then gives up.
    expect(results, `[${CLIENT}] produce to an unknown topic`).toEqual([{ error: { class: 'KafkaTimeoutError', message: 'KafkaTimeoutError: Failed to update metadata after 3.0 secs.', kafka: 'NONE', errno: null } }]);
    expect((await client.metadata()).listed, `[${CLIENT}] the unknown topic was not auto-created`).not.toContain('py-missing');
  });

  it('error: a record larger than max.message.bytes gets MESSAGE_TOO_LARGE', async () => {
    await createTopicFixture(broker, 'py-too-large', 1, { 'max.message.bytes': String(MAX_MESSAGE_BYTES) });
    const big = makeRecords({ tag: 'py-too-large', count: 1, partitions: 1 });
    big[0] = { ...big[0]!, value: Buffer.from(Array.from({ length: 2 * MAX_MESSAGE_BYTES }, (_, i) => (i * 7919) % 251)) };
    const results = await client.produce('produce an oversized record', 'py-too-large', big, { codec: 'none' });
    // kafka-python's name for error code 10 (MESSAGE_TOO_LARGE) is MESSAGE_SIZE_TOO_LARGE.
    expect(results.map((r) => ('error' in r ? { class: r.error.class, kafka: r.error.kafka, errno: r.error['errno'] } : r)), `[${CLIENT}] oversized record`)
      .toEqual([{ class: 'MessageSizeTooLargeError', kafka: 'MESSAGE_SIZE_TOO_LARGE', errno: 10 }]);
    const ok = await client.produce('produce a small record after the rejection', 'py-too-large', makeRecords({ tag: 'py-small', count: 1, partitions: 1 }), {});
    expect(ok, `[${CLIENT}] small record after the rejection`).toEqual([{ partition: 0, offset: 0 }]);
  });

  it('error: creating an existing topic gives TOPIC_ALREADY_EXISTS', async () => {
    await createTopicFixture(broker, 'py-exists', 2);
    const again = await client.create('py-exists', 4);
    expect({ class: again.error?.class, kafka: again.error?.kafka, errno: again.error?.['errno'] }, `[${CLIENT}] create an existing topic`).toEqual({ class: 'TopicAlreadyExistsError', kafka: 'TOPIC_ALREADY_EXISTS', errno: 36 });
    const md = await client.metadata(['py-exists']);
    expect(md.topics[0]?.partitions.length, `[${CLIENT}] the existing topic keeps its 2 partitions`).toBe(2);
  });

  // Last: it restarts the broker.
  it('committed offsets survive a broker restart: a new member resumes exactly there', async () => {
    await programRestartTest(client, broker, { topic: 'py-restart', group: 'py-restart-1', produce: {}, expectedState: 'Empty' });
  });
});
