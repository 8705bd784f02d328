/**
 * Child process for crash.test.ts: opens (recovering) the log in argv[2], then appends and flushes forever
 * until the parent kills it with SIGKILL. After every completed flush it prints `flushed <offset>`: every
 * record below that offset must survive the kill.
 *
 * Record values are derived from their own offset (`o<offset>:` + filler), so the parent can check each
 * surviving record without knowing what the child managed to write.
 */
import { buildRecordBatch } from '../../../broker/src/protocol/records/batch-builder.ts';
import { PartitionLog } from '../../../broker/src/log/partition-log.ts';
import { CRASH_CONFIG, valueFor } from './crash-shared.ts';

async function main(): Promise<void> {
  const [dir, seedText, recoveryPointText] = process.argv.slice(2);
  if (dir === undefined) throw new Error('usage: crash-child.ts <dir> <seed> <recoveryPoint>');
  let seed = Number(seedText ?? '1') >>> 0;
  const random = (n: number): number => {
    // xorshift32: deterministic per seed, no dependency.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const log = await PartitionLog.open({
    dir,
    topicPartition: { topic: 'crash', partition: 0 },
    config: CRASH_CONFIG,
    recoveryPoint: BigInt(recoveryPointText ?? '0'),
  });
  process.stdout.write(`ready ${log.logEndOffset}\n`);
  let epoch = log.latestEpoch < 0 ? 0 : log.latestEpoch;
  for (let i = 0; ; i++) {
    const count = 1 + random(8);
    const base = log.logEndOffset;
    const records = [];
    for (let j = 0; j < count; j++) {
      const offset = base + BigInt(j);
      records.push({ key: Buffer.from(`k${offset % 13n}`), value: Buffer.from(valueFor(offset)), timestampMs: 1_700_000_000_000n + offset });
    }
    if (random(100) === 0) epoch++;
    log.appendAsLeader(buildRecordBatch({ records }), epoch);
    if (random(10) === 0) {
      await log.flush();
      process.stdout.write(`flushed ${log.recoveryPoint}\n`);
    } else if (random(20) === 0) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

await main();
