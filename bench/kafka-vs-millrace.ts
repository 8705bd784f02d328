/**
 * Millrace vs Apache Kafka, measured with Kafka's own perf tools (ProducerPerformance, ConsumerPerformance,
 * EndToEndLatency) from the reference Kafka jars, against both brokers on 127.0.0.1, alternating per scenario.
 *
 *   node bench/kafka-vs-millrace.ts --quick      # about 2 minutes
 *   node bench/kafka-vs-millrace.ts              # full mode (2 GB backlog, longer runs)
 *
 * Options: --no-doc (do not rewrite docs/benchmarks.md), --keep-data (keep the temp data dirs).
 * Writes docs/benchmarks.md and docs/benchmarks.png unless --no-doc.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { freePorts, startBrokerProcess, type BrokerProcess } from '../test/unit/broker/broker-process.ts';
import { findKafkaHome, provisionKafkaRef, startKafkaRef, type KafkaRef } from '../test/tools/kafka-ref/kafka-ref.ts';
import { ratioBarChartPng } from './png-chart.ts';

const REPO = join(import.meta.dirname, '..');
const QUICK = process.argv.includes('--quick');
const WRITE_DOC = !process.argv.includes('--no-doc');
const KEEP_DATA = process.argv.includes('--keep-data');
const MODE = QUICK ? 'quick' : 'full';
const MiB = 1024 * 1024;
const T0 = Date.now();

function progress(msg: string): void {
  console.log(`[bench +${((Date.now() - T0) / 1000).toFixed(0).padStart(4)}s] ${msg}`);
}

// ---------------------------------------------------------------- parameters
const P = QUICK
  ? { warmupRecords: 100_000, s1Records: 200_000, s2Records: 500_000, s3Rate: 10_000, s3Records: 50_000, e2eRecords: 3_000, toolTimeoutMs: 120_000 }
  : { warmupRecords: 300_000, s1Records: 2_048_000, s2Records: 5_000_000, s3Rate: 10_000, s3Records: 300_000, e2eRecords: 20_000, toolTimeoutMs: 1_200_000 };

// ---------------------------------------------------------------- process accounting

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // after "pid (comm) ": [0]=state ... [11]=utime [12]=stime (clock ticks)
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

const CLK_TCK = (() => {
  try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { return 100; }
})();

/** Resets VmHWM to the current RSS (Linux clear_refs "5"); returns false when not permitted. */
function resetPeakRss(pid: number): boolean {
  try { writeFileSync(`/proc/${pid}/clear_refs`, '5'); return true; } catch { return false; }
}

function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

// ---------------------------------------------------------------- running Kafka's tools
interface ToolRun { code: number | null; out: string; timedOut: boolean; seconds: number }

let kafkaHome = '';

function runTool(mainClass: string, args: readonly string[], timeoutMs = P.toolTimeoutMs): Promise<ToolRun> {
  const started = Date.now();
  const child: ChildProcess = spawn('java', ['-Xmx512m', '-cp', `${join(kafkaHome, 'libs')}/*`, mainClass, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const onData = (d: Buffer): void => { out = (out + d.toString()).slice(-400_000); };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
  return new Promise((resolve) => {
    child.once('error', (err) => { clearTimeout(timer); resolve({ code: -1, out: `${out}\n${err.message}`, timedOut, seconds: (Date.now() - started) / 1000 }); });
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, out, timedOut, seconds: (Date.now() - started) / 1000 }); });
  });
}

function lastLines(s: string, n = 12): string {
  return s.trim().split('\n').filter((l) => l.trim() !== '').slice(-n).join('\n');
}

/** Lines that look like errors (first few), for the failure record. */
function errorLines(s: string, n = 6): string {
  const lines = s.split('\n').filter((l) => /error|exception|failed|timeout|timed out/i.test(l));
  return lines.slice(0, n).join('\n');
}

async function createTopic(bootstrap: string, topic: string, partitions: number): Promise<void> {
  const r = await runTool('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', bootstrap, '--create', '--if-not-exists', '--topic', topic,
    '--partitions', String(partitions), '--replication-factor', '1'], 60_000);
  if (r.code !== 0) throw new Error(`TopicCommand --create ${topic} failed (exit ${r.code}${r.timedOut ? ', timed out' : ''}):\n${lastLines(r.out)}`);
}

// ---------------------------------------------------------------- results
interface Result {
  recordsPerSec: number;
  mbPerSec: number; // MiB/s, as Kafka's tools report
  p50: number; p99: number; p999: number; // ms
  avgLatency: number; // ms
  cpuSeconds: number;
  peakRssMiB: number;
  note: string;
  error?: string;
}

type BrokerName = 'millrace' | 'kafka';
interface Target { name: BrokerName; bootstrap: string; pid: number; alive(): boolean; diag(): string }

interface Scenario {
  id: string;
  title: string;
  /** Latency column meaning. */
  latencyKind: string;
  run(t: Target): Promise<Omit<Result, 'cpuSeconds' | 'peakRssMiB'>>;
}

const PERF_RE = /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th/g;

async function producerPerf(t: Target, topic: string, records: number, recordSize: number, throughput: number, props: readonly string[]): Promise<Omit<Result, 'cpuSeconds' | 'peakRssMiB'>> {
  const r = await runTool('org.apache.kafka.tools.ProducerPerformance', ['--bootstrap-server', t.bootstrap, '--topic', topic, '--num-records', String(records),
    '--record-size', String(recordSize), '--throughput', String(throughput), '--producer-props', `bootstrap.servers=${t.bootstrap}`, ...props]);
  const all = [...r.out.matchAll(PERF_RE)];
  const m = all.at(-1);
  const failedSends = /Error|Exception/.test(r.out) ? errorLines(r.out) : '';
  if (r.code !== 0 || m === undefined || Number(m[1]) !== records) {
    throw new Error(`ProducerPerformance exit ${r.code}${r.timedOut ? ` (killed after ${P.toolTimeoutMs / 1000} s)` : ''}; ${m ? `final line reported ${m[1]} of ${records} records` : 'no final summary line'}:\n${failedSends || lastLines(r.out)}`);
  }
  return {
    recordsPerSec: Number(m[2]), mbPerSec: Number(m[3]), avgLatency: Number(m[4]),
    p50: Number(m[6]), p99: Number(m[8]), p999: Number(m[9]),
    note: failedSends ? `warnings: ${failedSends.split('\n')[0]}` : '',
  };
}

const scenarios: Scenario[] = [
  {
    id: 'S1', title: `produce 1 KiB, 1 partition, acks=1, linger.ms=5, batch.size=131072, unthrottled (${P.s1Records.toLocaleString('en-US')} records)`,
    latencyKind: 'producer send latency',
    run: async (t) => { await createTopic(t.bootstrap, 'bench-s1', 1); return producerPerf(t, 'bench-s1', P.s1Records, 1024, -1, ['acks=1', 'linger.ms=5', 'batch.size=131072']); },
  },
  {
    id: 'S2', title: `produce 100 B, 8 partitions, acks=all, enable.idempotence=true (${P.s2Records.toLocaleString('en-US')} records)`,
    latencyKind: 'producer send latency',
    run: async (t) => { await createTopic(t.bootstrap, 'bench-s2', 8); return producerPerf(t, 'bench-s2', P.s2Records, 100, -1, ['acks=all', 'enable.idempotence=true']); },
  },
  {
    id: 'S3', title: `produce 1 KiB at a fixed ${P.s3Rate.toLocaleString('en-US')} records/s, 1 partition, acks=1 (${P.s3Records.toLocaleString('en-US')} records)`,
    latencyKind: 'producer send latency',
    run: async (t) => { await createTopic(t.bootstrap, 'bench-s3', 1); return producerPerf(t, 'bench-s3', P.s3Records, 1024, P.s3Rate, ['acks=1']); },
  },
  {
    id: 'S4', title: `consume the S1 backlog (${((P.s1Records * 1024) / MiB).toFixed(0)} MiB, 1 KiB records, 1 partition), fresh group`,
    latencyKind: 'group join (rebalance) ms in note',
    run: async (t) => {
      const r = await runTool('org.apache.kafka.tools.ConsumerPerformance', ['--bootstrap-server', t.bootstrap, '--topic', 'bench-s1', '--num-records', String(P.s1Records),
        '--group', `bench-s4-${t.name}-${Date.now()}`, '--timeout', '30000']);
      const lines = r.out.split('\n');
      const hi = lines.findIndex((l) => l.startsWith('start.time'));
      const header = hi >= 0 ? (lines[hi] ?? '').split(',').map((s) => s.trim()) : [];
      const row = hi >= 0 ? (lines[hi + 1] ?? '').split(',').map((s) => s.trim()) : [];
      const get = (k: string): number => Number(row[header.indexOf(k)]);
      const n = get('data.consumed.in.nMsg');
      if (r.code !== 0 || hi < 0 || n !== P.s1Records) {
        throw new Error(`ConsumerPerformance exit ${r.code}${r.timedOut ? ' (killed)' : ''}; consumed ${Number.isFinite(n) ? n : '?'} of ${P.s1Records} records:\n${errorLines(r.out) || lastLines(r.out)}`);
      }
      return {
        recordsPerSec: get('fetch.nMsg.sec'), mbPerSec: get('fetch.MB.sec'), p50: NaN, p99: NaN, p999: NaN, avgLatency: NaN,
        note: `fetch-phase rates; rebalance ${get('rebalance.time.ms')} ms; overall incl. join ${get('MB.sec').toFixed(1)} MiB/s`,
      };
    },
  },
  {
    id: 'S5', title: `end-to-end latency, 1 KiB, acks=1, one message at a time (${P.e2eRecords.toLocaleString('en-US')} messages)`,
    latencyKind: 'produce->consume latency',
    run: async (t) => {
      await createTopic(t.bootstrap, 'bench-s5', 1);
      const r = await runTool('org.apache.kafka.tools.EndToEndLatency', [t.bootstrap, 'bench-s5', String(P.e2eRecords), '1', '1024']);
      const avg = /Avg latency: ([\d.]+) ms/.exec(r.out);
      const pct = /Percentiles: 50th = (\d+), 99th = (\d+), 99\.9th = (\d+)/.exec(r.out);
      if (r.code !== 0 || !avg || !pct) throw new Error(`EndToEndLatency exit ${r.code}${r.timedOut ? ' (killed)' : ''}:\n${errorLines(r.out) || lastLines(r.out)}`);
      const a = Number(avg[1]);
      return {
        recordsPerSec: 1000 / a, mbPerSec: (1000 / a) * 1024 / MiB, avgLatency: a, p50: Number(pct[1]), p99: Number(pct[2]), p999: Number(pct[3]),
        note: 'records/s = 1000 / avg latency (serial round trips); percentiles are whole ms as the tool prints them',
      };
    },
  },
];

async function measureScenario(s: Scenario, t: Target): Promise<Result> {
  progress(`${s.id} on ${t.name}: ${s.title}`);
  const cpu0 = cpuSeconds(t.pid);
  const hwmReset = resetPeakRss(t.pid);
  try {
    const r = await s.run(t);
    const res: Result = { ...r, cpuSeconds: cpuSeconds(t.pid) - cpu0, peakRssMiB: peakRssMiB(t.pid) };
    if (!hwmReset) res.note = `${res.note}${res.note ? '; ' : ''}peak RSS is since broker start`;
    progress(`${s.id} on ${t.name}: ${fmt(res.recordsPerSec, 0)} rec/s, ${fmt(res.mbPerSec, 1)} MiB/s, p50/p99/p99.9 ${fmt(res.p50)}/${fmt(res.p99)}/${fmt(res.p999)} ms, CPU ${fmt(res.cpuSeconds, 1)} s, peak RSS ${fmt(res.peakRssMiB, 0)} MiB`);
    return res;
  } catch (err) {
    let msg = err instanceof Error ? err.message : String(err);
    if (!t.alive()) msg += `\nThe ${t.name} broker process is no longer running. Its last output:\n${lastLines(t.diag(), 20)}`;
    progress(`${s.id} on ${t.name}: FAILED: ${msg.split('\n')[0]}`);
    const alive = t.alive();
    return {
      recordsPerSec: NaN, mbPerSec: NaN, p50: NaN, p99: NaN, p999: NaN, avgLatency: NaN,
      cpuSeconds: alive ? cpuSeconds(t.pid) - cpu0 : NaN, peakRssMiB: alive ? peakRssMiB(t.pid) : NaN, note: '', error: msg,
    };
  }
}

function fmt(v: number, digits = 2): string {
  if (!Number.isFinite(v)) return '-';
  return v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function duMiB(dir: string): number {
  try { return Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0]) / 1024; } catch { return NaN; }
}

// ---------------------------------------------------------------- machine limits
/** Loopback TCP: a sink in a separate Node process, this process pushing 1 MiB writes for ~3 s. */
async function loopbackMiBps(seconds = 3): Promise<number> {
  const sinkCode = `const net=require('node:net');let n=0;const s=net.createServer((c)=>{c.on('data',(d)=>{n+=d.length});c.on('end',()=>{process.stdout.write('BYTES '+n+'\\n');s.close()})});s.listen(0,'127.0.0.1',()=>process.stdout.write('PORT '+s.address().port+'\\n'));`;
  const sink = spawn(process.execPath, ['-e', sinkCode], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    sink.stdout.on('data', (d: Buffer) => { out += d.toString(); const m = /PORT (\d+)/.exec(out); if (m) resolve(Number(m[1])); });
    sink.once('exit', () => reject(new Error(`loopback sink exited: ${out}`)));
  });
  const sock = connect({ host: '127.0.0.1', port });
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const chunk = Buffer.alloc(MiB, 7);
  const start = performance.now();
  const end = start + seconds * 1000;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (performance.now() < end) {
        if (!sock.write(chunk)) { sock.once('drain', pump); return; }
      }
      sock.end(() => resolve());
    };
    pump();
  });
  const bytes = await new Promise<number>((resolve) => {
    const check = (): void => { const m = /BYTES (\d+)/.exec(out); if (m) resolve(Number(m[1])); };
    sink.stdout.on('data', check); check();
  });
  const secs = (performance.now() - start) / 1000;
  return bytes / MiB / secs;
}

/** Page-cache write rate: 512 MiB of 1 MiB writeSync calls into a file on the benchmark's data disk (no fsync). */
function pageCacheWriteMiBps(dir: string, totalMiB = 512): number {
  const file = join(dir, 'pagecache-probe.bin');
  const buf = Buffer.alloc(MiB, 1);
  const fd = openSync(file, 'w');
  const start = performance.now();
  for (let i = 0; i < totalMiB; i++) writeSync(fd, buf);
  const secs = (performance.now() - start) / 1000;
  closeSync(fd);
  unlinkSync(file);
  return totalMiB / secs;
}

// ---------------------------------------------------------------- machine description
function sh(cmd: string, args: readonly string[]): string {
  try { return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim(); } catch (e) {
    const err = e as { stderr?: string };
    return (err.stderr ?? '').trim() || 'unknown';
  }
}

function machine(): Record<string, string> {
  return {
    nproc: sh('nproc', []),
    memory: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    cpu: `${cpus()[0]?.model ?? 'unknown'} (${cpus().length} logical CPUs visible to Node)`,
    kernel: `Linux ${release()}`,
    node: process.version,
    java: sh('sh', ['-c', 'java -version 2>&1']).split('\n').slice(0, 2).join('; '),
    'load average at start (1/5/15 min)': loadavg().map((l) => l.toFixed(2)).join(' / '),
  };
}

// ---------------------------------------------------------------- main
async function main(): Promise<void> {
  progress(`mode: ${MODE}; ${JSON.stringify(P)}`);
  try { kafkaHome = findKafkaHome(); } catch {
    process.env['KAFKA_VERSION'] ??= '4.3.1';
    kafkaHome = await provisionKafkaRef((m) => progress(`[kafka-ref] ${m}`));
  }
  const root = mkdtempSync(join(tmpdir(), 'millrace-bench-'));
  progress(`data under ${root}; Kafka jars from ${kafkaHome}`);
  const mach = machine();
  progress(`machine: ${JSON.stringify(mach)}`);

  progress('machine limit: loopback TCP (Node socket pair, separate sink process, ~3 s)...');
  const loopback = await loopbackMiBps(3);
  progress(`loopback TCP: ${loopback.toFixed(0)} MiB/s`);
  progress('machine limit: page-cache write (512 MiB, no fsync)...');
  const pageCache = pageCacheWriteMiBps(root, 512);
  progress(`page-cache write: ${pageCache.toFixed(0)} MiB/s`);

  let millrace: BrokerProcess | undefined;
  let kafka: KafkaRef | undefined;
  const results = new Map<string, Partial<Record<BrokerName, Result>>>();
  const diskUsage: Record<BrokerName, number> = { millrace: NaN, kafka: NaN };
  try {
    progress('starting Millrace...');
    const mDir = join(root, 'millrace');
    mkdirSync(mDir);
    const ports = await freePorts(3);
    millrace = await startBrokerProcess(mDir, ports, [
      'num.partitions=1', 'offsets.topic.num.partitions=1', 'offsets.topic.replication.factor=1',
      'transaction.state.log.replication.factor=1', 'transaction.state.log.min.isr=1',
    ]);
    progress(`Millrace ready on 127.0.0.1:${millrace.port} (pid ${millrace.child.pid})`);
    progress('starting Kafka...');
    const [kport] = await freePorts(1);
    kafka = await startKafkaRef({ dataDir: join(root, 'kafka'), port: kport ?? 0, log: (m) => progress(`[kafka-ref] ${m}`) });
    const m = millrace;
    const k = kafka;
    const targets: Record<BrokerName, Target> = {
      millrace: { name: 'millrace', bootstrap: `127.0.0.1:${m.port}`, pid: m.child.pid ?? -1, alive: () => m.child.exitCode === null && m.child.signalCode === null, diag: () => m.output() },
      kafka: { name: 'kafka', bootstrap: k.bootstrap, pid: k.pid, alive: () => { try { readFileSync(`/proc/${k.pid}/stat`); return true; } catch { return false; } }, diag: () => { try { return readFileSync(k.serverLog, 'utf8').slice(-20_000); } catch { return ''; } } },
    };
    // Unmeasured warm-up on both brokers (JIT of the JVM and of V8, first segment files, the group coordinator).
    for (const b of ['millrace', 'kafka'] as const) {
      const t = targets[b];
      progress(`warm-up on ${b} (${P.warmupRecords.toLocaleString('en-US')} x 1 KiB produce + consume, not measured)...`);
      try {
        await producerPerf(t, 'bench-warmup', P.warmupRecords, 1024, -1, ['acks=1', 'linger.ms=5', 'batch.size=131072']);
        const r = await runTool('org.apache.kafka.tools.ConsumerPerformance', ['--bootstrap-server', t.bootstrap, '--topic', 'bench-warmup', '--num-records', String(P.warmupRecords),
          '--group', `bench-warmup-${b}`, '--timeout', '30000']);
        if (r.code !== 0) progress(`warm-up consume on ${b} exited ${r.code}: ${lastLines(r.out, 3)}`);
      } catch (err) {
        progress(`warm-up on ${b} failed (continuing): ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`);
      }
    }
    scenarios.forEach((s) => results.set(s.id, {}));
    for (const [i, s] of scenarios.entries()) {
      // Alternate which broker goes first; S4 reads the S1 topic so it needs S1 on both.
      const order: BrokerName[] = i % 2 === 0 ? ['millrace', 'kafka'] : ['kafka', 'millrace'];
      for (const b of order) {
        const t = targets[b];
        if (!t.alive()) {
          results.get(s.id)![b] = { recordsPerSec: NaN, mbPerSec: NaN, p50: NaN, p99: NaN, p999: NaN, avgLatency: NaN, cpuSeconds: NaN, peakRssMiB: NaN, note: '', error: `${b} broker not running (exited earlier)` };
          continue;
        }
        results.get(s.id)![b] = await measureScenario(s, t);
      }
    }
    diskUsage.millrace = duMiB(mDir);
    diskUsage.kafka = duMiB(join(root, 'kafka'));
    progress(`data on disk after all scenarios: Millrace ${diskUsage.millrace.toFixed(0)} MiB, Kafka ${diskUsage.kafka.toFixed(0)} MiB`);
  } finally {
    if (millrace && millrace.child.exitCode === null) {
      progress('stopping Millrace...');
      millrace.child.kill('SIGTERM');
      const timer = setTimeout(() => millrace?.child.kill('SIGKILL'), 15_000);
      await millrace.exited;
      clearTimeout(timer);
    }
    if (kafka) await kafka.stop(15_000);
    if (!KEEP_DATA) rmSync(root, { recursive: true, force: true });
  }

  // ------------------------------------------------------------ report
  const command = `node bench/kafka-vs-millrace.ts${QUICK ? ' --quick' : ''}   (npm run bench${QUICK ? ' -- --quick' : ''})`;
  const table = renderTable(results, loopback, pageCache);
  console.log(`\n${table}\n`);
  const failures = renderFailures(results);
  if (failures) console.log(failures);
  progress(`done in ${((Date.now() - T0) / 1000).toFixed(0)} s`);
  if (WRITE_DOC) {
    const docs = join(REPO, 'docs');
    mkdirSync(docs, { recursive: true });
    const bars = scenarios.map((s) => {
      const r = results.get(s.id);
      return { label: s.id, value: (r?.millrace?.mbPerSec ?? NaN) / (r?.kafka?.mbPerSec ?? NaN) };
    });
    writeFileSync(join(docs, 'benchmarks.png'), ratioBarChartPng(bars));
    writeFileSync(join(docs, 'benchmarks.md'), renderDoc({ results, diskUsage, table, failures, mach, command, loopback, pageCache, kafkaVersion: kafka?.version ?? 'unknown' }));
    progress('wrote docs/benchmarks.md and docs/benchmarks.png');
  }
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || a === 0 || b === 0) return '-';
  return `${(a / b).toFixed(2)}x`;
}

function renderTable(results: Map<string, Partial<Record<BrokerName, Result>>>, loopback: number, pageCache: number): string {
  const head = '| Scenario | Broker | records/s | MiB/s | % loopback | % page-cache write | p50 / p99 / p99.9 ms | avg ms | broker CPU s | peak RSS MiB |';
  const sep = '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|';
  const rows: string[] = [head, sep];
  for (const s of scenarios) {
    const r = results.get(s.id) ?? {};
    for (const b of ['millrace', 'kafka'] as const) {
      const x = r[b];
      if (!x) continue;
      const name = b === 'millrace' ? 'Millrace' : 'Kafka';
      if (x.error !== undefined) {
        rows.push(`| ${s.id} | ${name} | **FAILED** (see below) | | | | | | ${fmt(x.cpuSeconds, 1)} | ${fmt(x.peakRssMiB, 0)} |`);
        continue;
      }
      rows.push(`| ${s.id} | ${name} | ${fmt(x.recordsPerSec, 0)} | ${fmt(x.mbPerSec, 1)} | ${fmt((x.mbPerSec / loopback) * 100, 1)}% | ${fmt((x.mbPerSec / pageCache) * 100, 1)}% | ${fmt(x.p50)} / ${fmt(x.p99)} / ${fmt(x.p999)} | ${fmt(x.avgLatency)} | ${fmt(x.cpuSeconds, 1)} | ${fmt(x.peakRssMiB, 0)} |`);
    }
    const m = r.millrace;
    const k = r.kafka;
    rows.push(`| ${s.id} | **Millrace/Kafka** | ${ratio(m?.recordsPerSec, k?.recordsPerSec)} | ${ratio(m?.mbPerSec, k?.mbPerSec)} | | | ${ratio(m?.p50, k?.p50)} / ${ratio(m?.p99, k?.p99)} / ${ratio(m?.p999, k?.p999)} | ${ratio(m?.avgLatency, k?.avgLatency)} | ${ratio(m?.cpuSeconds, k?.cpuSeconds)} | ${ratio(m?.peakRssMiB, k?.peakRssMiB)} |`);
  }
  return rows.join('\n');
}

function renderFailures(results: Map<string, Partial<Record<BrokerName, Result>>>): string {
  const out: string[] = [];
  for (const s of scenarios) {
    for (const b of ['millrace', 'kafka'] as const) {
      const x = results.get(s.id)?.[b];
      if (x?.error !== undefined) out.push(`### ${s.id} on ${b === 'millrace' ? 'Millrace' : 'Kafka'} failed\n\n\`\`\`\n${x.error.trim()}\n\`\`\``);
    }
  }
  return out.join('\n\n');
}

function renderDoc(d: { results: Map<string, Partial<Record<BrokerName, Result>>>; diskUsage: Record<BrokerName, number>; table: string; failures: string; mach: Record<string, string>; command: string; loopback: number; pageCache: number; kafkaVersion: string }): string {
  const notes: string[] = [];
  for (const s of scenarios) {
    const r = d.results.get(s.id);
    for (const b of ['millrace', 'kafka'] as const) if (r?.[b]?.note) notes.push(`- ${s.id} ${b === 'millrace' ? 'Millrace' : 'Kafka'}: ${r[b]?.note}`);
  }
  return `# Millrace vs Apache Kafka — broker benchmarks

> **These figures are from a ${MODE === 'quick' ? 'QUICK-MODE' : 'FULL-MODE'} run** (\`${d.command}\`)${MODE === 'quick' ? ', which uses small record counts (about 2 minutes in total): treat them as indicative, not definitive. Run the full mode for publishable numbers.' : '.'}
> Generated ${new Date().toISOString()} by \`bench/kafka-vs-millrace.ts\`; re-running it overwrites this file and \`benchmarks.png\`.

## How it was measured

- Both brokers run on this machine, single-node, combined mode (broker + controller), 127.0.0.1 only, each with a
  fresh data directory under the OS temp dir: Millrace (\`node broker/src/main.ts --override ...\`) and the reference
  Apache Kafka ${d.kafkaVersion} (\`test/tools/kafka-ref\`, JVM \`-Xmx1024m\`, G1). Neither fsyncs per write (defaults:
  \`log.flush.interval.messages\` = Long.MAX on both); default partitions 1; offsets topic 1 partition, RF 1.
  Topics are created explicitly with the same partition counts on both (Kafka's \`TopicCommand\`).
- Load comes from **Kafka's own tools from the same jars** (\`org.apache.kafka.tools.ProducerPerformance\`,
  \`ConsumerPerformance\`, \`EndToEndLatency\`), one JVM per run, on the same machine as the brokers.
- Before the scenarios each broker gets an unmeasured warm-up (${P.warmupRecords.toLocaleString('en-US')} x 1 KiB produced and
  consumed) so neither the JVM's nor V8's JIT is measured cold.
- Scenarios run **alternating**: S1, S3, S5 Millrace first; S2, S4 Kafka first. Both brokers stay up for the whole run
  (the idle one is idle).
- Broker CPU seconds = delta of utime+stime from \`/proc/<pid>/stat\` across the scenario (includes the topic creation).
  Peak RSS = \`VmHWM\` from \`/proc/<pid>/status\`, reset to the current RSS at the start of each scenario
  (\`echo 5 > /proc/<pid>/clear_refs\`).
- MiB/s is as Kafka's tools report it (2^20 bytes of record payload). Latency columns: S1–S3 are the producer's
  send-to-ack latency as ProducerPerformance reports it; S5 is produce→consume latency (the tool prints whole ms);
  S4 has no latency figure (the group-join time is in the notes).
- Machine limits, measured in the same run: loopback TCP **${d.loopback.toFixed(0)} MiB/s** (Node socket pair, sink in a
  separate process, 1 MiB writes for 3 s); page-cache write **${d.pageCache.toFixed(0)} MiB/s** (512 MiB of 1 MiB
  \`writeSync\` into a file on the data disk, no fsync). The "% loopback" and "% page-cache write" columns are the
  scenario's MiB/s as a fraction of these.
- Caveat: the machine has ${d.mach['nproc']} CPUs shared by the broker under test, the client JVM(s) and the idle
  other broker, so the client competes with the broker for CPU; ratios are more meaningful than absolute numbers.

## Scenarios

${scenarios.map((s) => `- **${s.id}**: ${s.title}`).join('\n')}

## Results (${MODE} mode)

${d.table}

Data directory size after all scenarios (blocks in use, \`du -sk\`, a sanity check that both stored the same records): Millrace
${fmt(d.diskUsage.millrace, 0)} MiB, Kafka ${fmt(d.diskUsage.kafka, 0)} MiB.

Ratios are Millrace ÷ Kafka: above 1.00x is better for Millrace in records/s and MiB/s, worse in latency, CPU and RSS. A "-" ratio means a side failed, has no such figure, or printed 0 ms (EndToEndLatency rounds to whole milliseconds).

![Millrace/Kafka MiB/s ratio per scenario](benchmarks.png)

*Chart: Millrace MiB/s ÷ Kafka MiB/s per scenario (dashed line = parity; "-" = failed or not measured).*

${notes.length ? `### Notes\n\n${notes.join('\n')}\n` : ''}
## Caveats

- Quick mode is noisy: in quick runs during development the same scenario moved by up to ±30–50% between runs
  (for example S1 on Kafka from 40 to 75 MiB/s). Use the full mode, or several quick runs, before you quote a figure.
- On a small machine the unthrottled scenarios (S1, S2, S4) are largely limited by the client: the perf-tool
  JVM needs more than one core by itself. A broker that uses less CPU leaves more for the client. Millrace does its
  broker work on one event-loop thread, while Kafka spreads it over network and I/O thread pools. So these ratios
  do not predict how the two scale on a many-core host with many producers. Watch the broker CPU column as well as MiB/s.
- Producer latencies in the unthrottled scenarios mostly measure queueing in the client's accumulator, because the
  producer is pushing faster than it can send. Compare them between brokers, not with other benchmarks.

## Profiling Millrace under this load

\`NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" node bench/kafka-vs-millrace.ts --quick --no-doc\` writes a
\`.cpuprofile\` per Node process when it exits, including the broker's (its pid is in the progress output). Open it in
Chrome DevTools, or add up self time per function.

## Failures

${d.failures || 'None: every scenario completed on both brokers.'}

## Machine

| | |
|---|---|
| nproc | ${d.mach['nproc']} |
| memory | ${d.mach['memory']} |
| CPU | ${d.mach['cpu']} |
| kernel | ${d.mach['kernel']} |
| Node | ${d.mach['node']} |
| Java | ${d.mach['java']} |
| load average at start | ${d.mach['load average at start (1/5/15 min)']} |
| Kafka (reference) | ${d.kafkaVersion} |

## Command

\`\`\`
${d.command}
\`\`\`

Full mode: \`node bench/kafka-vs-millrace.ts\` (2 GiB S1/S4 backlog, 5 M records in S2, 30 s at fixed rate in S3,
20 000 end-to-end round trips). Needs the reference Kafka jars (\`test/tools/kafka-ref/provision.sh\`; cached in
\`~/.cache/millrace\`), \`java\` 17+ on PATH, and a few GiB free in the temp dir.
`;
}

void (async () => {
  try {
    await main();
  } catch (err) {
    console.error(err);
    process.exitCode = 1;
  }
})();
