/**
 * An in-process single-node broker on 127.0.0.1 ephemeral ports with its own data dir, and the few client
 * calls the admin tests share (create topic, produce, fetch), all through our protocol client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Broker } from '../../../broker/src/broker.ts';
import { brokerSettings } from '../../../broker/src/settings.ts';
import { BrokerConfig } from '../../../broker/src/config/index.ts';
import { KafkaConnection } from '../../../broker/src/client/kafka-connection.ts';
import { buildRecordBatch, forEachRecord, readBatchSizeBytes, recordValue } from '../../../broker/src/protocol/records/index.ts';
import { defaultCreateTopicsRequest, defaultFetchRequest, defaultProduceRequest } from '../../../broker/src/protocol/generated/index.ts';
import type { ReplicaManager } from '../../../broker/src/replication/replica-manager.ts';
import type { LogConfig } from '../../../broker/src/log/config.ts';

export class AdminHarness {
  readonly dataDir = mkdtempSync(join(tmpdir(), 'millrace-admin-'));
  broker!: Broker;
  client!: KafkaConnection;

  get logDir(): string {
    return join(this.dataDir, 'logs');
  }

  newBroker(extra: Readonly<Record<string, string>> = {}): Broker {
    const config = BrokerConfig.fromStatic({
      'process.roles': 'broker,controller', 'node.id': '1', 'controller.quorum.voters': '1@127.0.0.1:1',
      'controller.listener.names': 'CONTROLLER', listeners: 'PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
      'advertised.listeners': 'PLAINTEXT://127.0.0.1:0', 'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      'inter.broker.listener.name': 'PLAINTEXT', 'log.dirs': this.logDir, 'millrace.http.enable': 'false',
      'auto.create.topics.enable': 'false', ...extra,
    });
    return new Broker(brokerSettings(config), pino({ level: 'silent' }), { processMetrics: false });
  }

  async start(): Promise<void> {
    this.broker = this.newBroker();
    await this.broker.start();
    this.client = await this.connect();
  }

  async restart(): Promise<void> {
    this.client.close();
    await this.broker.shutdown();
    await this.start();
  }

  async stop(): Promise<void> {
    this.client.close();
    await this.broker.shutdown();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  connect(): Promise<KafkaConnection> {
    return KafkaConnection.open({ host: '127.0.0.1', port: this.broker.port('PLAINTEXT'), requestTimeoutMs: 10_000 });
  }

  async createTopic(name: string, numPartitions: number, configs: Readonly<Record<string, string>> = {}): Promise<number> {
    const res = await this.client.send(19, 7, {
      ...defaultCreateTopicsRequest(), timeoutMs: 5000,
      topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })) }],
    });
    return res.topics[0]?.errorCode ?? -1;
  }

  async produce(topic: string, partition: number, values: readonly string[]): Promise<{ errorCode: number; baseOffset: bigint }> {
    const records = buildRecordBatch({ records: values.map((v) => ({ key: null, value: Buffer.from(v) })) });
    const res = await this.client.send(0, 9, { ...defaultProduceRequest(), acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] });
    const p = res.responses[0]?.partitionResponses[0];
    return { errorCode: p?.errorCode ?? -1, baseOffset: p?.baseOffset ?? -1n };
  }

  async fetch(topic: string, partition: number, offset: bigint): Promise<{ errorCode: number; logStartOffset: bigint; values: string[] }> {
    const req = { ...defaultFetchRequest(), replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0 };
    req.topics = [{
      topic, topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
      partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: 'AAAAAAAAAAAAAAAAAAAAAA' }],
    }];
    const res = await this.client.send(1, 12, req);
    const p = res.responses[0]?.partitions[0];
    const values: string[] = [];
    const records = p?.records ?? Buffer.alloc(0);
    for (let at = 0; at < records.length; at += readBatchSizeBytes(records, at)) {
      forEachRecord(records, at, (r) => { values.push((recordValue(r) as Buffer).toString()); });
    }
    return { errorCode: p?.errorCode ?? -1, logStartOffset: p?.logStartOffset ?? -1n, values };
  }

  /** The config a hosted partition log runs with (white-box: the replica manager is private to the broker). */
  logConfigOf(topic: string, partition: number): LogConfig | undefined {
    const replicas = (this.broker as unknown as { replicas: ReplicaManager }).replicas;
    return replicas.hostedPartition(topic, partition)?.log.config;
  }
}
