// Partition reads with kafkajs's own protocol layer. kafkajs has no assign()/seek(): its consumer always
// joins a group, so reading a partition from an offset without a group goes through the cluster object its
// clients use internally (kafkajs's Fetch v11 encoder and record batch decoder, the same code path its
// consumer runs) to send Fetch requests straight to the partition leader.
import type { Kafka } from 'kafkajs';
import type { ConsumedRecord } from './records.ts';

interface KjsMessage {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
  headers: Record<string, Buffer | Buffer[] | undefined>;
}

interface KjsFetchPartition {
  partition: number;
  errorCode: number;
  highWatermark: string;
  messages: KjsMessage[];
}

interface KjsBroker {
  fetch(request: {
    replicaId: number; isolationLevel: number; maxWaitTime: number; minBytes: number; maxBytes: number;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }> }>;
  }): Promise<{ responses: Array<{ topicName: string; partitions: KjsFetchPartition[] }> }>;
}

interface KjsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  findTopicPartitionMetadata(topic: string): Array<{ partitionId: number; leader: number }>;
  findBroker(args: { nodeId: number }): Promise<KjsBroker>;
}

export class KafkajsPartitionReader {
  private readonly cluster: KjsCluster;

  constructor(kafka: Kafka) {
    const key = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
    if (key === undefined) throw new Error('kafkajs internals changed: no private:Kafka:createCluster symbol');
    const create = (kafka as unknown as Record<symbol, (o: { allowAutoTopicCreation: boolean }) => KjsCluster>)[key];
    if (create === undefined) throw new Error('kafkajs internals changed: createCluster missing');
    this.cluster = create({ allowAutoTopicCreation: false });
  }

  async connect(): Promise<void> {
    await this.cluster.connect();
  }

  async disconnect(): Promise<void> {
    await this.cluster.disconnect();
  }

  /** Fetches until `count` records at or after `offset` are read (the partition must hold them). */
  async read(topic: string, partition: number, offset: number, count: number): Promise<{ records: ConsumedRecord[]; firstBatchOffsets: number[]; highWatermark: number }> {
    await this.cluster.addTargetTopic(topic);
    await this.cluster.refreshMetadata();
    const meta = this.cluster.findTopicPartitionMetadata(topic).find((p) => p.partitionId === partition);
    if (meta === undefined) throw new Error(`kafkajs metadata has no partition ${topic}-${partition}`);
    const leader = await this.cluster.findBroker({ nodeId: meta.leader });
    const records: ConsumedRecord[] = [];
    const firstBatchOffsets: number[] = [];
    let next = offset;
    let highWatermark = -1;
    for (let round = 0; records.length < count && round < 100; round++) {
      const response = await leader.fetch({
        replicaId: -1, isolationLevel: 1, maxWaitTime: 500, minBytes: 1, maxBytes: 1 << 20,
        topics: [{ topic, partitions: [{ partition, fetchOffset: String(next), maxBytes: 64 * 1024 }] }],
      });
      const p = response.responses.find((t) => t.topicName === topic)?.partitions.find((x) => x.partition === partition);
      if (p === undefined) throw new Error(`Fetch response without ${topic}-${partition}`);
      if (p.errorCode !== 0) throw new Error(`Fetch ${topic}-${partition}@${next}: error code ${p.errorCode}`);
      highWatermark = Number(p.highWatermark);
      if (round === 0 && p.messages.length > 0) firstBatchOffsets.push(Number(p.messages[0]?.offset));
      // Like kafkajs's consumer: a batch may start before the fetch offset; skip those records.
      for (const m of p.messages) {
        const o = Number(m.offset);
        if (o < next) continue;
        records.push({
          partition, offset: o, key: m.key, value: m.value, timestamp: Number(m.timestamp),
          headers: Object.entries(m.headers).flatMap(([name, v]) => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((b) => [name, b] as [string, Buffer | null]))),
        });
        next = o + 1;
      }
      if (p.messages.length === 0 && next >= highWatermark) break;
    }
    return { records, firstBatchOffsets, highWatermark };
  }
}
