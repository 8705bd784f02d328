// Topic fixtures. Each client's own admin API is tested in that client's metadata and error tests; the
// topics its produce/consume tests need are created here, so that one admin bug fails one test and does
// not hide everything else the client could have shown. kcat has no admin API and relies on this.
import { expect } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import type { TestBroker } from './broker.ts';
import { closeQuietly, step } from './step.ts';

export async function createTopicFixture(broker: TestBroker, topic: string, numPartitions: number, configs: Readonly<Record<string, string>> = {}): Promise<void> {
  const kafka = new Kafka({ clientId: 'compat-fixtures', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100 } });
  const admin = kafka.admin();
  try {
    const created = await step('fixture', `create topic ${topic} (kafkajs admin)`, 30_000, async () => {
      await admin.connect();
      return admin.createTopics({
        topics: [{ topic, numPartitions, replicationFactor: 1, configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) }],
        waitForLeaders: true,
      });
    }, broker);
    expect(created, `[fixture] create topic ${topic}: created`).toBe(true);
  } finally {
    await closeQuietly('fixture admin disconnect', () => admin.disconnect());
  }
}
