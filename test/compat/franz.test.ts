// franz-go (kgo + kadm) against a real Millrace broker. franz-go uses min(its max, broker max) per API,
// fails if the broker's minimum is above its own, and its producer is idempotent by default.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_CODECS, TestBroker } from './helpers/broker.ts';
import { createTopicFixture } from './helpers/fixtures.ts';
import { ProgramClient, programAdminTest, programGroupTest, programRebalanceTest, programRestartTest, programRoundTrip } from './helpers/program.ts';
import { makeRecords, type WireRecord } from './helpers/records.ts';
import { franzClient } from './helpers/tools.ts';

const CLIENT = 'franz-go';

/** franz-go also reports what it decoded from each record's batch header. */
interface FranzRecord extends WireRecord {
  producerId: number;
  producerEpoch: number;
}
const MAX_MESSAGE_BYTES = 10_000;

let broker: TestBroker;
let client: ProgramClient;

beforeAll(async () => {
  const binary = franzClient();
  broker = await TestBroker.start('franz', { 'auto.create.topics.enable': 'false' });
  client = new ProgramClient(CLIENT, binary, [], broker);
});

afterAll(async () => {
  await broker?.stop();
});

describe('franz-go', () => {
  it('admin: create a topic, then metadata (cluster id, brokers, controller, topics)', async () => {
    const created = await client.create('franz-meta', 3);
    expect(created.error, `[${CLIENT}] create topic franz-meta: error`).toBeUndefined();
    const md = await client.metadata(['franz-meta']);
    const id = md.topics[0]?.['id'];
    expect(typeof id === 'string' && id !== 'AAAAAAAAAAAAAAAAAAAAAA', `[${CLIENT}] metadata: franz-meta has a topic id (got ${String(id)})`).toBe(true);
    expect(created, `[${CLIENT}] create topic franz-meta: result`).toEqual({ ok: true, id, partitions: 3 });
    expect(md, `[${CLIENT}] metadata`).toEqual({
      clusterId: broker.clusterId,
      controller: broker.nodeId,
      brokers: [{ id: broker.nodeId, host: '127.0.0.1', port: broker.port }],
      listed: ['franz-meta'],
      topics: [{ name: 'franz-meta', id, internal: false, error: null, partitions: [0, 1, 2].map((partition) => ({ partition, leader: broker.nodeId, replicas: [broker.nodeId], isr: [broker.nodeId], error: null })) }],
    });
  });

  for (const codec of ALL_CODECS) {
    it(`produce (idempotent by default) and read back by partition/offset, compression ${codec}`, async () => {
      await programRoundTrip(client, broker, {
        label: `codec ${codec}`, topic: `franz-codec-${codec}`, produce: { codec }, expectIdempotent: true,
        records: { nullHeaderValue: true },
      });
    });
  }

  for (const acks of ['0', '1', 'all'] as const) {
    it(`produce with acks=${acks}, idempotence off`, async () => {
      await programRoundTrip(client, broker, {
        label: `acks=${acks}`, topic: `franz-acks-${acks}`, produce: { acks, idempotent: false, codec: 'zstd' }, expectIdempotent: false,
        checkAckOffsets: acks !== '0',
      });
    });
  }

  it('idempotent producer: the consumer sees the producer id of every record', async () => {
    const topic = 'franz-idempotent';
    await createTopicFixture(broker, topic, 1);
    const records = makeRecords({ tag: topic, count: 20, partitions: 1 });
    const first = await client.produce('produce (first producer)', topic, records.slice(0, 10), {});
    const second = await client.produce('produce (second producer)', topic, records.slice(10), {});
    expect([...first, ...second], `[${CLIENT}] idempotent produce results`).toEqual(records.map((_, i) => ({ partition: 0, offset: i })));
    const r = await client.run<{ records: FranzRecord[] }>('consume with producer ids', 'consume', { topic, partitions: '0', offset: 0, count: 20, 'timeout-ms': 20_000 });
    const ids = r.records.map((x) => `${x.offset}:${x.producerId >= 0 ? 'pid' : 'none'}`);
    expect(ids, `[${CLIENT}] every record carries a producer id`).toEqual(records.map((_, i) => `${i}:pid`));
    const distinct = [...new Set(r.records.map((x) => `${x.producerId}/${x.producerEpoch}`))];
    expect(distinct.length, `[${CLIENT}] two producer sessions got two producer ids (${distinct.join(', ')})`).toBe(2);
  });

  it('consumer group: consume, commit, resume from committed offsets', async () => {
    await programGroupTest(client, broker, { topic: 'franz-group', group: 'franz-group-1', produce: {}, expectedState: 'Empty' });
  });

  it('consumer group of 3 members: partitions split among them, and re-split when one leaves', async () => {
    await programRebalanceTest(client, broker, { topic: 'franz-rebalance', group: 'franz-rebalance-1' });
  });

  it('admin: describe and alter topic configs, create partitions, delete topic', async () => {
    await programAdminTest(client, 'franz-admin', broker.nodeId);
  });

  it('error: unknown topic with auto-create off', async () => {
    const md = await client.metadata(['franz-missing']);
    expect(md.topics.map((t) => ({ name: t.name, error: t['error'] })), `[${CLIENT}] metadata of an unknown topic`).toEqual([{ name: 'franz-missing', error: 'UNKNOWN_TOPIC_OR_PARTITION' }]);
    const results = await client.produce('produce to an unknown topic', 'franz-missing', makeRecords({ tag: 'x', count: 1, partitions: 1 }), { extra: { 'unknown-topic-retries': '2' } });
    // (kafka = the kerr.Error found in the chain with errors.As; franz-go may wrap it.)
    expect(results.map((r) => ('error' in r ? { kafka: r.error.kafka } : r)), `[${CLIENT}] produce to an unknown topic`)
      .toEqual([{ kafka: 'UNKNOWN_TOPIC_OR_PARTITION' }]);
    expect((await client.metadata()).listed, `[${CLIENT}] the unknown topic was not auto-created`).not.toContain('franz-missing');
  });

  it('error: a record larger than max.message.bytes gets MESSAGE_TOO_LARGE', async () => {
    await createTopicFixture(broker, 'franz-too-large', 1, { 'max.message.bytes': String(MAX_MESSAGE_BYTES) });
    const big = makeRecords({ tag: 'franz-too-large', count: 1, partitions: 1 });
    big[0] = { ...big[0]!, value: Buffer.from(Array.from({ length: 2 * MAX_MESSAGE_BYTES }, (_, i) => (i * 7919) % 251)) };
    const results = await client.produce('produce an oversized record', 'franz-too-large', big, { codec: 'none' });
    expect(results.map((r) => ('error' in r ? { kafka: r.error.kafka } : r)), `[${CLIENT}] oversized record`)
      .toEqual([{ kafka: 'MESSAGE_TOO_LARGE' }]);
    const ok = await client.produce('produce a small record after the rejection', 'franz-too-large', makeRecords({ tag: 'franz-small', count: 1, partitions: 1 }), {});
    expect(ok, `[${CLIENT}] small record after the rejection`).toEqual([{ partition: 0, offset: 0 }]);
  });

  it('error: creating an existing topic gives TOPIC_ALREADY_EXISTS', async () => {
    await createTopicFixture(broker, 'franz-exists', 2);
    const again = await client.create('franz-exists', 4);
    expect({ kafka: again.error?.kafka }, `[${CLIENT}] create an existing topic`).toEqual({ kafka: 'TOPIC_ALREADY_EXISTS' });
    const md = await client.metadata(['franz-exists']);
    expect(md.topics[0]?.partitions.length, `[${CLIENT}] the existing topic keeps its 2 partitions`).toBe(2);
  });

  // Last: it restarts the broker.
  it('committed offsets survive a broker restart: a new member resumes exactly there', async () => {
    await programRestartTest(client, broker, { topic: 'franz-restart', group: 'franz-restart-1', produce: {}, expectedState: 'Empty' });
  });
});
