// Captures golden Kafka protocol fixtures from REAL clients talking to a REAL Apache Kafka broker.
//
//   node test/tools/capture-fixtures.ts [--out test/fixtures/golden] [--clients kafkajs,kcat,java] [--keep-data]
//
// Needs: java 17+ and mvn (the broker is provisioned by test/tools/kafka-ref/provision.sh), kcat
// (Debian package `kcat`, librdkafka 2.0.2), kafkajs from node_modules. Dev tool, not run in CI.
//
// Layout written under --out:
//   <client>/NNN-<Api>-v<version>-<request|response>.bin   frames without the 4-byte size prefix
//   <client>/manifest.json                                 one entry per frame, with pairing
//   records/<client>-<codec>.log                           the broker's on-disk segment of one topic
//   records/manifest.json                                  the exact records each segment holds
//   README.md                                              how it was made (regenerated each run)
import { Kafka, CompressionTypes, Partitioners, logLevel, type IHeaders, type Message } from 'kafkajs';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CaptureProxy, type CapturedFrame } from './capture-proxy.ts';
import { ApiCatalog } from './capture/api-info.ts';
import {
  diffRecords,
  goldenRecords,
  recordToJson,
  toJavaLine,
  toKcatLine,
  RECORDS_PER_SET,
  type ClientName,
  type GoldenHeader,
  type ObservedRecord,
} from './capture/golden-records.ts';
import { runProcess } from './capture/run-process.ts';
import { CODECS, readBatchHeaders, type Codec } from './capture/segment-batches.ts';
import { freePort, provisionKafkaRef, startKafkaRef, type KafkaRef } from './kafka-ref/kafka-ref.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');
const ALL_CLIENTS: readonly ClientName[] = ['kafkajs', 'kcat', 'java'];
/** Non-Produce frames kept per (apiKey, apiVersion) and direction, per client. */
const MAX_PAIRS_PER_VERSION = 2;
const MAX_TOTAL_BYTES = 2 * 1024 * 1024;

const log = (message: string): void => console.error(`[capture] ${message}`);
const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
  const started = Date.now();
  log(`${what}...`);
  const result = await fn();
  log(`${what}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
};

const CLIENT_CODECS: Record<ClientName, readonly Codec[]> = {
  kafkajs: ['none', 'gzip'],
  kcat: CODECS,
  java: CODECS,
};
const topicFor = (client: ClientName, codec: Codec): string => `golden-${client}-${codec}`;

interface ClientInfo {
  client: ClientName;
  clientVersion: string;
  description: string;
  commands: string[];
  verified: string[];
}

// ---------------------------------------------------------------- kafkajs

function kafkajsVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('kafkajs/package.json') as { version: string }).version;
}

function toKafkajsHeaders(headers: readonly GoldenHeader[]): IHeaders {
  const out: IHeaders = {};
  for (const h of headers) {
    if (h.value === null) throw new Error('kafkajs cannot send a null header value');
    const prev = out[h.key];
    if (prev === undefined) out[h.key] = h.value;
    else out[h.key] = Array.isArray(prev) ? [...prev, h.value] : [prev, h.value];
  }
  return out;
}

function fromKafkajsHeaders(headers: IHeaders | undefined): GoldenHeader[] {
  const out: GoldenHeader[] = [];
  for (const [key, v] of Object.entries(headers ?? {})) {
    const values = Array.isArray(v) ? v : [v];
    for (const x of values) out.push({ key, value: x === undefined ? null : Buffer.from(x) });
  }
  return out;
}

async function runKafkajs(bootstrap: string, proxy: CaptureProxy): Promise<ClientInfo> {
  proxy.label = 'kafkajs';
  const kafka = new Kafka({ clientId: 'golden-kafkajs', brokers: [bootstrap], logLevel: logLevel.WARN, retry: { retries: 8 } });
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = kafka.consumer({ groupId: 'golden-kafkajs-group', heartbeatInterval: 300, sessionTimeout: 10_000, maxWaitTimeInMs: 300 });
  const topics = CLIENT_CODECS.kafkajs.map((c) => topicFor('kafkajs', c));
  const scratch = 'golden-kafkajs-scratch';
  const verified: string[] = [];
  try {
    await step('kafkajs admin.createTopics', async () => {
      await admin.connect();
      const created = await admin.createTopics({
        topics: [...topics, scratch].map((topic) => ({ topic, numPartitions: 1, replicationFactor: 1 })),
        waitForLeaders: true,
      });
      if (!created) throw new Error('kafkajs createTopics returned false: the topics already exist (stale broker data?)');
    });
    await producer.connect();
    for (const codec of CLIENT_CODECS.kafkajs) {
      await step(`kafkajs producer.send compression=${codec}`, async () => {
        const messages: Message[] = goldenRecords('kafkajs', codec).map((r) => ({
          key: r.key,
          value: r.value,
          headers: toKafkajsHeaders(r.headers),
          timestamp: String(r.timestamp),
          partition: 0,
        }));
        await producer.send({
          topic: topicFor('kafkajs', codec),
          acks: -1,
          compression: codec === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
          messages,
        });
      });
    }
    await producer.disconnect();

    const seen = new Map<string, ObservedRecord[]>(topics.map((t) => [t, []]));
    await step('kafkajs consumer group golden-kafkajs-group (join, sync, fetch, commit, leave)', async () => {
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: true });
      const expected = topics.length * RECORDS_PER_SET;
      let total = 0;
      await new Promise<void>((resolvePromise, reject) => {
        const timer = setTimeout(() => reject(new Error(`kafkajs consumer got ${total}/${expected} records in 60 s`)), 60_000);
        consumer
          .run({
            autoCommit: false,
            eachMessage: ({ topic, message }) => {
              seen.get(topic)?.push({
                offset: Number(message.offset),
                key: message.key,
                value: message.value,
                headers: fromKafkajsHeaders(message.headers),
                timestamp: Number(message.timestamp),
              });
              if (++total >= expected) {
                clearTimeout(timer);
                resolvePromise();
              }
              return Promise.resolve();
            },
          })
          .catch(reject);
      });
      // Stay in the group a little so that heartbeats (and an empty long-poll fetch) are captured too.
      await new Promise((r) => setTimeout(r, 1500));
      await consumer.commitOffsets(topics.map((topic) => ({ topic, partition: 0, offset: String(RECORDS_PER_SET) })));
      await consumer.disconnect();
    });
    for (const codec of CLIENT_CODECS.kafkajs) {
      const topic = topicFor('kafkajs', codec);
      const problems = diffRecords(goldenRecords('kafkajs', codec), seen.get(topic) ?? []);
      if (problems.length > 0) throw new Error(`kafkajs read back ${topic} differently:\n  ${problems.join('\n  ')}`);
      verified.push(`kafkajs consumer read back ${topic} exactly`);
    }
    await step('kafkajs admin.fetchOffsets + deleteTopics', async () => {
      const offsets = await admin.fetchOffsets({ groupId: 'golden-kafkajs-group', topics });
      for (const t of offsets) {
        const o = t.partitions[0]?.offset;
        if (o !== String(RECORDS_PER_SET)) throw new Error(`committed offset of ${t.topic} is ${o}, expected ${RECORDS_PER_SET}`);
      }
      verified.push(`committed offsets read back with admin.fetchOffsets`);
      await admin.deleteTopics({ topics: [scratch] });
    });
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    proxy.label = null;
  }
  return {
    client: 'kafkajs',
    clientVersion: kafkajsVersion(),
    description:
      'kafkajs (node_modules): admin createTopics (3 topics) / fetchOffsets / deleteTopics, producer.send with compression none and gzip (keys, values, headers, timestamps), consumer group subscribe + run + commitOffsets + disconnect (LeaveGroup)',
    commands: [
      `admin.createTopics(${[...topics, scratch].join(', ')})`,
      ...CLIENT_CODECS.kafkajs.map((c) => `producer.send(${topicFor('kafkajs', c)}, compression ${c}, acks -1, ${RECORDS_PER_SET} messages)`),
      `consumer(golden-kafkajs-group).subscribe(${topics.join(', ')}, fromBeginning) + run + commitOffsets + disconnect`,
      `admin.fetchOffsets(golden-kafkajs-group), admin.deleteTopics(${scratch})`,
    ],
    verified,
  };
}

// ---------------------------------------------------------------- kcat

async function kcatVersion(): Promise<{ kcat: string; librdkafka: string }> {
  const r = await runProcess('kcat', ['-V'], { timeoutMs: 10_000 }).catch((err: unknown) => {
    throw new Error(`kcat is not usable (${(err as Error).message}). Install it: apt-get update && apt-get install -y kcat`);
  });
  const text = r.stdout + r.stderr;
  return {
    kcat: /Version (\S+)/.exec(text)?.[1] ?? 'unknown',
    librdkafka: /librdkafka (\S+)/.exec(text)?.[1] ?? 'unknown',
  };
}

function parseKcatLines(stdout: string): Map<string, { offset: number; key: string; value: string; headers: string }[]> {
  const out = new Map<string, { offset: number; key: string; value: string; headers: string }[]>();
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const [topic, , offset, key, value, headers] = line.split('\t');
    if (topic === undefined || offset === undefined || key === undefined || value === undefined) continue;
    const list = out.get(topic) ?? [];
    list.push({ offset: Number(offset), key, value, headers: headers ?? '' });
    out.set(topic, list);
  }
  return out;
}

function checkKcatRead(topic: string, codec: Codec, rows: { offset: number; key: string; value: string; headers: string }[] | undefined): void {
  const expected = goldenRecords('kcat', codec);
  const problems: string[] = [];
  if (rows?.length !== expected.length) problems.push(`count ${rows?.length ?? 0} != ${expected.length}`);
  expected.forEach((e, i) => {
    const row = rows?.[i];
    if (row === undefined) return;
    const k = e.key === null ? 'NULL' : e.key.toString('utf8');
    const v = e.value === null ? 'NULL' : e.value.toString('utf8');
    if (row.key !== k) problems.push(`#${i} key ${row.key} != ${k}`);
    if (row.value !== v) problems.push(`#${i} value differs`);
    if (row.headers !== `h-client=kcat,h-codec=${codec}`) problems.push(`#${i} headers ${row.headers}`);
  });
  if (problems.length > 0) throw new Error(`kcat read back ${topic} differently:\n  ${problems.join('\n  ')}`);
}

async function runKcat(bootstrap: string, proxy: CaptureProxy, setupAdmin: (topics: string[]) => Promise<void>): Promise<ClientInfo> {
  const versions = await kcatVersion();
  const topics = CODECS.map((c) => topicFor('kcat', c));
  // Topics are created outside the recorded window (kcat has no admin commands).
  await step('creating kcat topics (kafkajs admin, not recorded)', () => setupAdmin(topics));
  const commands: string[] = [];
  const verified: string[] = [];
  const kcat = async (args: string[], input?: string, timeoutMs = 60_000): Promise<string> => {
    commands.push(`kcat ${args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/\n/g, '\\n').replace(/\t/g, '\\t')}'`)).join(' ')}`);
    const r = await runProcess('kcat', args, { ...(input !== undefined ? { input } : {}), timeoutMs });
    return r.stdout;
  };
  const fmt = '%t\t%p\t%o\t%k\t%s\t%h\n';
  proxy.label = 'kcat';
  try {
    await step('kcat -L', () => kcat(['-b', bootstrap, '-L']));
    for (const codec of CODECS) {
      await step(`kcat -P -z ${codec}`, async () => {
        const input = goldenRecords('kcat', codec).map(toKcatLine).join('\n') + '\n';
        await kcat(
          ['-b', bootstrap, '-P', '-t', topicFor('kcat', codec), '-p', '0', '-z', codec, '-K', '\t', '-Z',
            '-H', 'h-client=kcat', '-H', `h-codec=${codec}`, '-X', 'linger.ms=1000', '-X', 'batch.num.messages=1000'],
          input,
        );
      });
    }
    for (const codec of CODECS) {
      const topic = topicFor('kcat', codec);
      const out = await step(`kcat -C ${topic}`, () => kcat(['-b', bootstrap, '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-Z', '-q', '-f', fmt]));
      checkKcatRead(topic, codec, parseKcatLines(out).get(topic));
      verified.push(`kcat -C read back ${topic} (keys, values, headers)`);
    }
    const out = await step('kcat -G golden-kcat-group (balanced consumer)', () =>
      kcat(
        ['-b', bootstrap, '-G', 'golden-kcat-group', '-X', 'auto.offset.reset=earliest', '-X', 'enable.partition.eof=true', '-e', '-Z', '-q',
          '-c', String(topics.length * RECORDS_PER_SET), '-f', fmt, ...topics],
        undefined,
        90_000,
      ),
    );
    const byTopic = parseKcatLines(out);
    CODECS.forEach((codec) => checkKcatRead(topicFor('kcat', codec), codec, byTopic.get(topicFor('kcat', codec))));
    verified.push(`kcat -G read back all ${topics.length} kcat topics`);
  } finally {
    proxy.label = null;
  }
  return {
    client: 'kcat',
    clientVersion: `kcat ${versions.kcat}, librdkafka ${versions.librdkafka}`,
    description: 'kcat (Debian package): -L metadata, -P with -z none/gzip/snappy/lz4/zstd (keys via -K, nulls via -Z, headers via -H), -C per topic, -G balanced consumer group',
    commands,
    verified,
  };
}

// ---------------------------------------------------------------- java

function parseJavaLines(stdout: string): Map<string, ObservedRecord[]> {
  const out = new Map<string, ObservedRecord[]>();
  const dec = (s: string | undefined): Buffer | null => (s === undefined || s === '~' ? null : Buffer.from(s, 'base64'));
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const [topic, , offset, key, value, timestamp, ...headers] = line.split('\t');
    if (topic === undefined || offset === undefined) continue;
    const list = out.get(topic) ?? [];
    list.push({
      offset: Number(offset),
      key: dec(key),
      value: dec(value),
      timestamp: Number(timestamp),
      headers: headers.map((h) => {
        const eq = h.indexOf('=');
        return eq < 0 ? { key: h, value: null } : { key: h.slice(0, eq), value: dec(h.slice(eq + 1)) };
      }),
    });
    out.set(topic, list);
  }
  return out;
}

interface JavaRunner {
  run(args: string[], timeoutMs?: number): Promise<string>;
  commands: string[];
}

async function javaRunner(kafka: KafkaRef, workDir: string): Promise<JavaRunner> {
  const classes = join(workDir, 'java-classes');
  mkdirSync(classes, { recursive: true });
  const libs = `${join(kafka.kafkaHome, 'libs')}/*`;
  const source = join(HERE, 'capture', 'java-golden-client.java');
  await step('javac java-golden-client.java', () => runProcess('javac', ['-cp', libs, '-d', classes, source], { timeoutMs: 120_000 }));
  writeFileSync(
    join(workDir, 'java-log4j2.xml'),
    '<Configuration status="WARN"><Appenders><Console name="e" target="SYSTEM_ERR"><PatternLayout pattern="%p %c{1} %m%n"/></Console></Appenders>' +
      '<Loggers><Root level="WARN"><AppenderRef ref="e"/></Root></Loggers></Configuration>\n',
  );
  const commands: string[] = [];
  return {
    commands,
    run: async (args, timeoutMs = 120_000) => {
      commands.push(`java -cp '<classes>:<kafka>/libs/*' JavaGoldenClient ${args.join(' ')}`);
      const r = await runProcess(
        'java',
        [`-Dlog4j2.configurationFile=${join(workDir, 'java-log4j2.xml')}`, '-cp', `${classes}:${libs}`, 'JavaGoldenClient', ...args],
        { timeoutMs },
      );
      return r.stdout;
    },
  };
}

async function runJava(bootstrap: string, proxy: CaptureProxy, java: JavaRunner, workDir: string, kafkaVersion: string): Promise<ClientInfo> {
  const topics = CODECS.map((c) => topicFor('java', c));
  const scratch = 'golden-java-scratch';
  const verified: string[] = [];
  proxy.label = 'java';
  try {
    await step('java Admin.createTopics', () => java.run([bootstrap, 'create', ...topics, scratch]));
    for (const codec of CODECS) {
      const file = join(workDir, `java-${codec}.records`);
      writeFileSync(file, goldenRecords('java', codec).map(toJavaLine).join('\n') + '\n');
      await step(`java KafkaProducer compression.type=${codec}`, () => java.run([bootstrap, 'produce', topicFor('java', codec), codec, file]));
    }
    for (const protocol of ['classic', 'consumer']) {
      const out = await step(`java KafkaConsumer group.protocol=${protocol}`, () =>
        java.run([bootstrap, 'consume', `golden-java-group-${protocol}`, protocol, String(topics.length * RECORDS_PER_SET), ...topics]),
      );
      const byTopic = parseJavaLines(out);
      for (const codec of CODECS) {
        const topic = topicFor('java', codec);
        const problems = diffRecords(goldenRecords('java', codec), byTopic.get(topic) ?? []);
        if (problems.length > 0) throw new Error(`java (${protocol}) read back ${topic} differently:\n  ${problems.join('\n  ')}`);
      }
      verified.push(`java KafkaConsumer (group.protocol=${protocol}) read back all java topics exactly`);
    }
    await step('java Admin.deleteTopics', () => java.run([bootstrap, 'delete', scratch]));
  } finally {
    proxy.label = null;
  }
  return {
    client: 'java',
    clientVersion: `org.apache.kafka:kafka-clients:${kafkaVersion}`,
    description:
      'Official Java client (kafka-clients from the same Maven download), via test/tools/capture/java-golden-client.java: Admin createTopics/deleteTopics, idempotent KafkaProducer (acks=all) with each compression.type, KafkaConsumer groups with group.protocol=classic and group.protocol=consumer (KIP-848), commitSync',
    commands: java.commands.slice(),
    verified,
  };
}

// ---------------------------------------------------------------- fixtures

interface FrameEntry {
  file: string;
  direction: 'request' | 'response';
  apiKey: number;
  apiName: string;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  headerVersion: number | null;
  flexible: boolean | null;
  connection: number;
  size: number;
  pair: number;
  pairedWith: string | null;
}

/**
 * Every Produce request (and its response); for other APIs at most MAX_PAIRS_PER_VERSION request/response
 * pairs per (apiKey, apiVersion): the first one and the one with the largest response (the most content:
 * e.g. a Fetch response with records rather than an empty long poll), or the last one when the first is the largest.
 */
function selectPairs(frames: readonly CapturedFrame[], label: string): { kept: [CapturedFrame, CapturedFrame | null][]; skipped: number } {
  const bySeq = new Map(frames.map((f) => [f.seq, f]));
  const groups = new Map<string, [CapturedFrame, CapturedFrame | null][]>();
  for (const f of frames) {
    if (f.direction !== 'request' || f.label !== label) continue;
    const res = f.pairedSeq === null ? null : (bySeq.get(f.pairedSeq) ?? null);
    const key = `${f.apiKey}/${f.apiVersion}`;
    const list = groups.get(key) ?? [];
    list.push([f, res]);
    groups.set(key, list);
  }
  const kept: [CapturedFrame, CapturedFrame | null][] = [];
  let skipped = 0;
  for (const list of groups.values()) {
    if (list[0]?.[0].apiKey === 0) {
      kept.push(...list);
      continue;
    }
    const size = (p: [CapturedFrame, CapturedFrame | null]): number => p[1]?.payload.length ?? p[0].payload.length;
    const chosen = new Set<[CapturedFrame, CapturedFrame | null]>();
    const first = list[0];
    if (first !== undefined) chosen.add(first);
    const largest = list.reduce<[CapturedFrame, CapturedFrame | null] | undefined>((a, b) => (a === undefined || size(b) > size(a) ? b : a), undefined);
    if (largest !== undefined && chosen.size < MAX_PAIRS_PER_VERSION) chosen.add(largest);
    // When the first pair is also the largest, keep the last one instead (e.g. a leave heartbeat, an incremental fetch).
    const last = list[list.length - 1];
    if (last !== undefined && chosen.size < MAX_PAIRS_PER_VERSION) chosen.add(last);
    kept.push(...chosen);
    skipped += list.length - chosen.size;
  }
  kept.sort((a, b) => a[0].seq - b[0].seq);
  return { kept, skipped };
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function writeClientFrames(
  outDir: string,
  info: ClientInfo,
  frames: readonly CapturedFrame[],
  catalog: ApiCatalog,
  kafkaVersion: string,
  redact: (text: string) => string,
): number {
  const dir = join(outDir, info.client);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const { kept, skipped } = selectPairs(frames, info.client);
  const entries: FrameEntry[] = [];
  let n = 0;
  let bytes = 0;
  const seenApis = new Map<string, number>();
  kept.forEach(([req, res], pair) => {
    const apiName = catalog.name(req.apiKey);
    const name = (f: CapturedFrame): string =>
      `${String(n++).padStart(3, '0')}-${apiName}-v${req.apiVersion}-${f.direction}.bin`;
    const reqFile = name(req);
    const resFile = res === null ? null : name(res);
    const flexible = catalog.isFlexible(req.apiKey, req.apiVersion);
    for (const [f, file, other] of [[req, reqFile, resFile], [res, resFile, reqFile]] as const) {
      if (f === null || file === null) continue;
      writeFileSync(join(dir, file), f.payload);
      bytes += f.payload.length;
      entries.push({
        file,
        direction: f.direction,
        apiKey: req.apiKey,
        apiName,
        apiVersion: req.apiVersion,
        correlationId: f.correlationId,
        clientId: req.clientId,
        headerVersion:
          f.direction === 'request' ? catalog.requestHeaderVersion(req.apiKey, req.apiVersion) : catalog.responseHeaderVersion(req.apiKey, req.apiVersion),
        flexible,
        connection: f.connection,
        size: f.payload.length,
        pair,
        pairedWith: other,
      });
    }
    const k = `${apiName} v${req.apiVersion}`;
    seenApis.set(k, (seenApis.get(k) ?? 0) + 1);
  });
  const labelled = frames.filter((f) => f.label === info.client);
  const manifest = {
    client: info.client,
    clientVersion: info.clientVersion,
    kafkaVersion,
    description: info.description,
    note:
      'Each .bin file is one Kafka frame WITHOUT its 4-byte size prefix: request header + body, or response header + body, ' +
      'byte for byte as on the wire. Responses carry only a correlation id; apiKey/apiVersion of a response come from its paired request. ' +
      `Every Produce request is kept; for other APIs at most ${MAX_PAIRS_PER_VERSION} request/response pairs per (apiKey, apiVersion) ` +
      '(the first, and the one with the largest response, or else the last). headerVersion: request header v1/v2, response header v0/v1 (ApiVersions responses always v0).',
    capturedFrames: labelled.length,
    keptFrames: entries.length,
    skippedPairs: skipped,
    commands: info.commands.map(redact),
    verified: info.verified,
    apis: Object.fromEntries([...seenApis.entries()].sort()),
    frames: entries,
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  log(`${info.client}: ${entries.length} frames kept of ${labelled.length} captured (${(bytes / 1024).toFixed(1)} KiB)`);
  return bytes;
}

interface RecordsFileEntry {
  file: string;
  client: ClientName;
  codec: Codec;
  topic: string;
  size: number;
  sha256: string;
  count: number;
  batches: ReturnType<typeof readBatchHeaders>;
  records: Record<string, unknown>[];
}

function collectSegments(kafka: KafkaRef, clients: readonly ClientName[]): { entries: RecordsFileEntry[]; files: Map<string, Buffer> } {
  const entries: RecordsFileEntry[] = [];
  const files = new Map<string, Buffer>();
  for (const client of clients) {
    for (const codec of CLIENT_CODECS[client]) {
      const topic = topicFor(client, codec);
      const segPath = join(kafka.partitionDir(topic), '00000000000000000000.log');
      if (!existsSync(segPath)) throw new Error(`segment ${segPath} is missing: did producing to ${topic} fail?`);
      const data = readFileSync(segPath);
      const batches = readBatchHeaders(data);
      const used = batches.reduce((n, b) => Math.max(n, b.position + 12 + b.batchLength), 0);
      const segment = data.subarray(0, used);
      const count = batches.reduce((n, b) => n + b.recordCount, 0);
      const records = goldenRecords(client, codec);
      if (count !== records.length) throw new Error(`${segPath} holds ${count} records, expected ${records.length}`);
      const wrongCodec = batches.filter((b) => b.compression !== codec);
      if (wrongCodec.length > 0) {
        log(`warning: ${topic}: ${wrongCodec.length}/${batches.length} batches stored with compression ${wrongCodec.map((b) => b.compression).join(',')} (asked for ${codec}; librdkafka sends a batch uncompressed when compression does not shrink it)`);
      }
      const file = `${client}-${codec}.log`;
      files.set(file, segment);
      entries.push({
        file,
        client,
        codec,
        topic,
        size: segment.length,
        sha256: sha256(segment),
        count,
        batches,
        records: records.map((r, i) => recordToJson(r, i)),
      });
    }
  }
  return { entries, files };
}

function writeRecords(outDir: string, kafkaVersion: string, clients: readonly ClientName[], entries: RecordsFileEntry[], files: Map<string, Buffer>): number {
  const dir = join(outDir, 'records');
  mkdirSync(dir, { recursive: true });
  // The repo's .gitignore has *.log; these .log files are Kafka segments and must be committed.
  writeFileSync(join(dir, '.gitignore'), '# The repo ignores *.log; these .log files are Kafka log segments (fixtures), not logs.\n!*.log\n');
  const manifestPath = join(dir, 'manifest.json');
  let previous: RecordsFileEntry[] = [];
  if (existsSync(manifestPath)) {
    previous = (JSON.parse(readFileSync(manifestPath, 'utf8')) as { files: RecordsFileEntry[] }).files.filter((e) => !clients.includes(e.client));
  }
  for (const f of readdirSync(dir)) {
    if (f.endsWith('.log') && clients.some((c) => f.startsWith(`${c}-`))) rmSync(join(dir, f));
  }
  let bytes = 0;
  for (const [file, data] of files) {
    writeFileSync(join(dir, file), data);
    bytes += data.length;
  }
  const all = [...previous, ...entries].sort((a, b) => a.file.localeCompare(b.file));
  const manifest = {
    kafkaVersion,
    note:
      'Each .log file is a copy of one topic partition\'s first log segment (<log.dirs>/<topic>-0/00000000000000000000.log) written by ' +
      'Apache Kafka with compression.type=producer, i.e. the record batches as the client produced them (baseOffset and partitionLeaderEpoch ' +
      'assigned by the broker). "records" is what the producer was asked to send, in offset order: bytes are {"utf8": ...} or {"base64": ...}, ' +
      'null is null; timestamp null means the client used its clock (kcat). "batches" describes the 61-byte batch headers only. ' +
      'The same records were read back by the producing client and by the Java consumer before the files were written.',
    files: all,
  };
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  return bytes;
}

function listFixtureFiles(outDir: string): { path: string; size: number }[] {
  const out: { path: string; size: number }[] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d).sort()) {
      if (f.startsWith('.')) continue;
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else out.push({ path: relative(outDir, p), size: statSync(p).size });
    }
  };
  walk(outDir);
  return out;
}

function writeReadme(outDir: string, kafkaVersion: string): number {
  const readManifest = (client: ClientName): { clientVersion: string; description: string; apis: Record<string, number>; keptFrames: number; capturedFrames: number; commands: string[] } | null => {
    const p = join(outDir, client, 'manifest.json');
    return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as never) : null;
  };
  const lines: string[] = [];
  lines.push('# Golden Kafka protocol fixtures', '');
  lines.push(
    'Bytes captured from real, third-party Kafka clients talking to a real Apache Kafka broker. Nothing here was produced by Millrace code: ',
    'use these files to test decoders and encoders against what real clients and a real broker put on the wire and on disk.',
    '',
    'GENERATED by `test/tools/capture-fixtures.ts`; do not edit by hand. Regenerate with (from the repo root, needs java 17+, mvn, kcat):',
    '',
    '```sh',
    'test/tools/kafka-ref/provision.sh                 # once: Apache Kafka from Maven Central into ~/.cache/millrace',
    'apt-get install -y kcat                           # Debian kcat 1.7.1 / librdkafka 2.0.2',
    'node_modules/.bin/node test/tools/capture-fixtures.ts',
    '```',
    '',
    '`--clients kafkajs,kcat,java` re-captures a subset (other clients\' files are kept); `--keep-data` keeps the broker data dir.',
    '',
    '## How they were made',
    '',
    `- Broker: Apache Kafka ${kafkaVersion} (org.apache.kafka:kafka_2.13 from Maven Central, provisioned by test/tools/kafka-ref/provision.sh), `,
    '  single node, KRaft combined mode (broker + controller) on 127.0.0.1, fresh storage, defaults except replication factors 1 and',
    '  group.initial.rebalance.delay.ms=0 (see test/tools/kafka-ref/kafka-ref.ts), and log.retention.ms=-1 (the records carry fixed 2023 timestamps).',
    '- The broker advertises the port of `test/tools/capture-proxy.ts`, a TCP proxy that forwards bytes unchanged and records every',
    '  frame in both directions, pairing responses with requests by correlation id on the same connection.',
    '- Clients, run one after another against the proxy:',
  );
  for (const client of ALL_CLIENTS) {
    const m = readManifest(client);
    if (m === null) continue;
    lines.push(`  - **${client}** (${m.clientVersion}): ${m.description}.`);
  }
  lines.push(
    '',
    '## Layout',
    '',
    '- `<client>/manifest.json`: one entry per frame: `file`, `direction` (request/response), `apiKey`, `apiName`, `apiVersion`,',
    '  `correlationId`, `clientId`, `headerVersion` (request header v1/v2, response header v0/v1), `flexible`, `connection`, `size`,',
    '  `pair` (index of the request/response pair) and `pairedWith` (the other file of the pair; null for a request without response).',
    '  Also the exact client calls (`commands`), what was verified, and frame counts.',
    '- `<client>/NNN-<ApiName>-v<version>-<request|response>.bin`: one frame WITHOUT the 4-byte size prefix (header + body as on the wire).',
    `  Every Produce request is kept; other APIs keep at most ${MAX_PAIRS_PER_VERSION} request/response pairs per (apiKey, apiVersion): the first, and the one with the largest response (or the last one when the first is the largest).`,
    '- `records/<client>-<codec>.log`: the broker\'s on-disk log segment of topic `golden-<client>-<codec>` (partition 0), i.e. the record',
    '  batches exactly as the client produced them (Kafka keeps producer batches with compression.type=producer; it only sets baseOffset',
    '  and partitionLeaderEpoch). librdkafka (kcat) may send a batch uncompressed when compression would not shrink it; `batches[].compression` says what is stored.',
    "- `records/.gitignore`: re-includes `*.log`, which the repo's .gitignore excludes.",
    '- `records/manifest.json`: for each .log, the client, codec, sha256, batch headers (61-byte header fields only) and the exact records',
    '  in offset order (key, value, headers as `{"utf8": ...}` / `{"base64": ...}` / null; timestamp or null when the client used its clock).',
    '',
    'Record content is deterministic (`test/tools/capture/golden-records.ts`): 12 records per file; keys `k-<i>` (null at 3 and 8, UTF-8 `k-10-ü`), ',
    'values `v-<i>-<codec>` (null at 7, ~1 KiB compressible text at 1, 5, 9, non-ASCII at 10); headers on records 0, 3, 6, 9 ',
    '(duplicate key at 0, binary value at 6, null value at 9 for Java only); kcat puts `h-client=kcat`, `h-codec=<codec>` on every record.',
    '',
    '## Frames per client',
    '',
  );
  for (const client of ALL_CLIENTS) {
    const m = readManifest(client);
    if (m === null) continue;
    lines.push(`### ${client}`, '', `${m.keptFrames} frames kept of ${m.capturedFrames} captured. Request/response pairs by API:`, '');
    lines.push(Object.entries(m.apis).map(([k, v]) => `${k} (${v})`).join(', '), '');
    lines.push('Commands run:', '', ...m.commands.map((c) => `- \`${c}\``), '');
  }
  const files = listFixtureFiles(outDir).filter((f) => f.path !== 'README.md');
  const total = files.reduce((n, f) => n + f.size, 0);
  lines.push('## Files', '', `${files.length} files, ${(total / 1024).toFixed(1)} KiB in total (README excluded).`, '');
  const byDir = new Map<string, { count: number; size: number }>();
  for (const f of files) {
    const d = dirname(f.path);
    const e = byDir.get(d) ?? { count: 0, size: 0 };
    e.count++;
    e.size += f.size;
    byDir.set(d, e);
  }
  lines.push('| directory | files | bytes |', '| --- | ---: | ---: |');
  for (const [d, e] of [...byDir.entries()].sort()) lines.push(`| ${d}/ | ${e.count} | ${e.size} |`);
  lines.push('', '| records file | bytes |', '| --- | ---: |');
  for (const f of files.filter((x) => x.path.startsWith('records/') && x.path.endsWith('.log'))) lines.push(`| ${f.path} | ${f.size} |`);
  lines.push('');
  writeFileSync(join(outDir, 'README.md'), lines.join('\n'));
  return total;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: join(REPO, 'test', 'fixtures', 'golden') },
      clients: { type: 'string', default: ALL_CLIENTS.join(',') },
      'keep-data': { type: 'boolean', default: false },
    },
  });
  const outDir = resolve(values.out);
  const clients = values.clients.split(',').map((c) => c.trim()) as ClientName[];
  for (const c of clients) {
    if (!ALL_CLIENTS.includes(c)) throw new Error(`unknown client ${c}; choose from ${ALL_CLIENTS.join(', ')}`);
  }
  const catalog = new ApiCatalog();
  if (catalog.source === null) log('warning: Kafka message schemas not found (../shared/kafka-schemas/clients); API names will be "Api<key>"');
  const startedAll = Date.now();

  const kafkaHome = await step('provisioning Apache Kafka', () => provisionKafkaRef((m) => log(m)));
  const workDir = mkdtempSync(join(tmpdir(), 'millrace-capture-'));
  const brokerPort = await freePort();
  const proxy = await CaptureProxy.start({ targetPort: brokerPort });
  const bootstrap = `127.0.0.1:${proxy.port}`;
  log(`capture proxy on ${bootstrap} -> broker 127.0.0.1:${brokerPort}; work dir ${workDir}`);
  let kafka: KafkaRef | null = null;
  let ok = false;
  try {
    kafka = await step('starting Apache Kafka', () =>
      startKafkaRef({
        dataDir: join(workDir, 'kafka'),
        port: brokerPort,
        advertisedPort: proxy.port,
        kafkaHome,
        log: (m) => log(m),
        // The records carry fixed 2023 timestamps: without this, time-based retention deletes their segments.
        serverProperties: { 'log.retention.ms': -1 },
      }),
    );
    const kafkaVersion = kafka.version;
    const java = await javaRunner(kafka, workDir);

    // Admin used only for setup outside the recorded windows.
    const setupKafka = new Kafka({ clientId: 'golden-setup', brokers: [bootstrap], logLevel: logLevel.WARN });
    const setupAdmin = async (topics: string[]): Promise<void> => {
      const admin = setupKafka.admin();
      await admin.connect();
      try {
        await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: 1, replicationFactor: 1 })), waitForLeaders: true });
      } finally {
        await admin.disconnect();
      }
    };

    const infos = new Map<ClientName, ClientInfo>();
    // Commands in manifests name placeholders instead of this run's random port and temp dir.
    const redact = (text: string): string => text.replaceAll(bootstrap, '<bootstrap>').replaceAll(workDir, '<workdir>');
    if (clients.includes('kafkajs')) infos.set('kafkajs', await step('== kafkajs', () => runKafkajs(bootstrap, proxy)));
    if (clients.includes('kcat')) infos.set('kcat', await step('== kcat', () => runKcat(bootstrap, proxy, setupAdmin)));
    if (clients.includes('java')) infos.set('java', await step('== java', () => runJava(bootstrap, proxy, java, workDir, kafkaVersion)));

    // Independent check of every segment with the reference Java consumer (not recorded).
    const allTopics = clients.flatMap((c) => CLIENT_CODECS[c].map((codec) => topicFor(c, codec)));
    const dump = parseJavaLines(await step(`verifying ${allTopics.length} topics with the Java consumer`, () => java.run([bootstrap, 'dump', ...allTopics])));
    for (const c of clients) {
      for (const codec of CLIENT_CODECS[c]) {
        const problems = diffRecords(goldenRecords(c, codec), dump.get(topicFor(c, codec)) ?? []);
        if (problems.length > 0) throw new Error(`Java consumer read ${topicFor(c, codec)} differently from what was produced:\n  ${problems.join('\n  ')}`);
        infos.get(c)?.verified.push(`Java consumer (assign, no group) read back ${topicFor(c, codec)} exactly`);
      }
    }
    const segments = collectSegments(kafka, clients);
    await kafka.stop();
    await proxy.close();

    if (proxy.parseErrors.length > 0) log(`warning: proxy parse problems:\n  ${proxy.parseErrors.join('\n  ')}`);
    const stray = proxy.frames.filter((f) => f.label !== null && f.clientId?.startsWith('broker-') === true);
    if (stray.length > 0) log(`note: ${stray.length} frames came from the broker itself through the proxy (kept with the client label)`);

    mkdirSync(outDir, { recursive: true });
    let bytes = 0;
    for (const c of clients) {
      const info = infos.get(c);
      if (info !== undefined) bytes += writeClientFrames(outDir, info, proxy.frames, catalog, kafkaVersion, redact);
    }
    bytes += writeRecords(outDir, kafkaVersion, clients, segments.entries, segments.files);
    const total = writeReadme(outDir, kafkaVersion);
    log(`wrote ${(bytes / 1024).toFixed(1)} KiB this run; fixtures total ${(total / 1024).toFixed(1)} KiB in ${outDir}`);
    if (total > MAX_TOTAL_BYTES) log(`warning: fixtures exceed ${MAX_TOTAL_BYTES} bytes; lower MAX_PAIRS_PER_VERSION or the record sizes`);
    log(`all done in ${((Date.now() - startedAll) / 1000).toFixed(1)} s`);
    ok = true;
  } finally {
    await kafka?.stop().catch(() => undefined);
    await proxy.close();
    if (ok && !values['keep-data']) rmSync(workDir, { recursive: true, force: true });
    else log(`broker data, logs and work files kept in ${workDir} (server log: ${join(workDir, 'kafka', 'server.log')})`);
  }
}

main().catch((err: unknown) => {
  log(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
