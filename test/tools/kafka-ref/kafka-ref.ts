// Start and stop a single-node, combined-mode (broker + controller) reference Apache Kafka broker on
// 127.0.0.1, from the jars that provision.sh puts in the cache. Usable from vitest tests, bench scripts
// and the fixture capture tool:
//
//   const kafka = await startKafkaRef({ dataDir: '/tmp/x' });
//   ... connect to kafka.bootstrap ...
//   await kafka.stop();
//
// Every start formats a fresh KRaft storage directory (StorageTool format --standalone).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const PROVISION_SCRIPT = join(HERE, 'provision.sh');
const MARKER = '.millrace-kafka-ref';
const HOST = '127.0.0.1';

export interface KafkaRefOptions {
  /** Directory owned by this broker: wiped and re-created on start (refused if it holds foreign files). */
  dataDir: string;
  /** Client (PLAINTEXT) port; 0 or absent picks a free port. */
  port?: number;
  /** KRaft controller port; 0 or absent picks a free port. */
  controllerPort?: number;
  /** Port advertised to clients in Metadata (e.g. a capture proxy in front of the broker). Defaults to port. */
  advertisedPort?: number;
  /** Provisioned Kafka directory (holds libs/). Defaults to $KAFKA_HOME, then <cache>/kafka-current. */
  kafkaHome?: string;
  /** Extra or overriding server.properties entries. */
  serverProperties?: Record<string, string | number | boolean>;
  /** JVM heap in MiB (default 1024). */
  heapMiB?: number;
  /** How long to wait for the broker to answer ApiVersions (default 90 s). */
  startTimeoutMs?: number;
  /** Progress output (default: console.error with a prefix). */
  log?: (message: string) => void;
}

export interface KafkaRef {
  readonly host: string;
  readonly port: number;
  readonly controllerPort: number;
  readonly advertisedPort: number;
  /** "127.0.0.1:<advertisedPort>": what clients should bootstrap from. */
  readonly bootstrap: string;
  readonly version: string;
  readonly kafkaHome: string;
  readonly dataDir: string;
  /** Kafka's log.dirs: topic partitions live in <logDir>/<topic>-<partition>/. */
  readonly logDir: string;
  /** log4j output of the broker (server.log) and the JVM's stdout/stderr (kafka.out). */
  readonly serverLog: string;
  readonly stdoutLog: string;
  readonly pid: number;
  /** Directory of one partition's segments. */
  partitionDir(topic: string, partition?: number): string;
  /** SIGTERM (controlled shutdown), then SIGKILL after timeoutMs (default 30 s). Idempotent. */
  stop(timeoutMs?: number): Promise<void>;
}

export function cacheDir(): string {
  return process.env['MILLRACE_CACHE'] ?? join(homedir(), '.cache', 'millrace');
}

/** Where a provisioned Kafka lives, or an Error saying how to provision it. */
export function findKafkaHome(explicit?: string): string {
  const candidates: string[] = [];
  if (explicit !== undefined) candidates.push(explicit);
  const env = process.env['KAFKA_HOME'];
  if (env !== undefined && env !== '') candidates.push(env);
  const current = join(cacheDir(), 'kafka-current');
  if (existsSync(current)) candidates.push(readFileSync(current, 'utf8').trim());
  for (const dir of candidates) {
    if (existsSync(join(dir, 'libs')) && readdirSync(join(dir, 'libs')).some((f) => f.startsWith('kafka_2.13-'))) {
      return dir;
    }
  }
  throw new Error(
    `No provisioned Apache Kafka found (looked at: ${candidates.join(', ') || `$KAFKA_HOME, ${current}`}). ` +
      `Run ${PROVISION_SCRIPT} first (needs java + mvn and access to Maven Central), or set KAFKA_HOME to a directory with libs/.`,
  );
}

export function kafkaVersion(kafkaHome: string): string {
  const file = join(kafkaHome, 'VERSION');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const jar = readdirSync(join(kafkaHome, 'libs')).find((f) => /^kafka_2\.13-.*\.jar$/.test(f));
  return jar?.replace(/^kafka_2\.13-(.*)\.jar$/, '$1') ?? 'unknown';
}

/** Runs provision.sh (idempotent) and returns the provisioned KAFKA_HOME. */
export async function provisionKafkaRef(log: (message: string) => void = defaultLog): Promise<string> {
  log(`provisioning the reference Kafka broker (${PROVISION_SCRIPT})...`);
  const child = spawn('bash', [PROVISION_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const code = await new Promise<number | null>((resolvePromise, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolvePromise(c));
  });
  const home = /^KAFKA_HOME=(.*)$/m.exec(out)?.[1];
  if (code !== 0 || home === undefined) {
    throw new Error(`${PROVISION_SCRIPT} failed (exit ${code}); its messages above name the cause.`);
  }
  return home;
}

/** A free TCP port on 127.0.0.1 (racy by nature, but fine on a dev/CI machine). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolvePromise(port));
    });
  });
}

function defaultLog(message: string): void {
  console.error(`[kafka-ref] ${message}`);
}

/** Kafka cluster ids are 16 random bytes, base64url without padding, never starting with '-'. */
function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function prepareDataDir(dataDir: string): void {
  if (existsSync(dataDir)) {
    const entries = readdirSync(dataDir);
    if (entries.length > 0 && !entries.includes(MARKER)) {
      throw new Error(
        `Refusing to wipe ${dataDir}: it is not empty and was not created by kafka-ref (no ${MARKER} file). ` +
          'Pass an empty or new directory.',
      );
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, MARKER), 'created by test/tools/kafka-ref; wiped on every start\n');
}

function log4jConfig(serverLog: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <File name="server" fileName="${serverLog}" append="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
    <Console name="stderr" target="SYSTEM_ERR">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <ThresholdFilter level="ERROR"/>
    </Console>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="org.apache.kafka.controller" level="INFO"/>
    <Root level="INFO"><AppenderRef ref="server"/><AppenderRef ref="stderr"/></Root>
  </Loggers>
</Configuration>
`;
}

function runToCompletion(cmd: string, args: string[], outFile: string): Promise<number | null> {
  const fd = openSync(outFile, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
  return new Promise((resolvePromise, reject) => {
    child.once('error', (err) => {
      closeSync(fd);
      reject(err);
    });
    child.once('exit', (code) => {
      closeSync(fd);
      resolvePromise(code);
    });
  });
}

function tail(file: string, lines = 25): string {
  if (!existsSync(file)) return '(no output)';
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

/** Sends ApiVersions v0 and resolves true when a well-formed response with error 0 arrives. */
function probeApiVersions(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const sock = connect({ host: HOST, port });
    let buf = Buffer.alloc(0);
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      sock.destroy();
      resolvePromise(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('error', () => done(false));
    sock.once('close', () => done(false));
    sock.on('connect', () => {
      // size, apiKey 18, apiVersion 0, correlationId 0x6b726566, clientId null (int16 -1)
      const req = Buffer.alloc(14);
      req.writeInt32BE(10, 0);
      req.writeInt16BE(18, 4);
      req.writeInt16BE(0, 6);
      req.writeInt32BE(0x6b726566, 8);
      req.writeInt16BE(-1, 12);
      sock.write(req);
    });
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 10) {
        const size = buf.readInt32BE(0);
        if (buf.length >= 4 + size) done(buf.readInt32BE(4) === 0x6b726566 && buf.readInt16BE(8) === 0);
      }
    });
  });
}

export async function startKafkaRef(options: KafkaRefOptions): Promise<KafkaRef> {
  const log = options.log ?? defaultLog;
  const kafkaHome = findKafkaHome(options.kafkaHome);
  const version = kafkaVersion(kafkaHome);
  const dataDir = resolve(options.dataDir);
  const port = options.port !== undefined && options.port !== 0 ? options.port : await freePort();
  const controllerPort =
    options.controllerPort !== undefined && options.controllerPort !== 0 ? options.controllerPort : await freePort();
  const advertisedPort = options.advertisedPort ?? port;
  const heapMiB = options.heapMiB ?? 1024;
  const startTimeoutMs = options.startTimeoutMs ?? 90_000;

  prepareDataDir(dataDir);
  const logDir = join(dataDir, 'kraft-logs');
  const serverLog = join(dataDir, 'server.log');
  const stdoutLog = join(dataDir, 'kafka.out');
  const propsFile = join(dataDir, 'server.properties');
  const log4jFile = join(dataDir, 'log4j2.xml');
  const classpath = `${join(kafkaHome, 'libs')}/*`;

  const props: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.bootstrap.servers': `${HOST}:${controllerPort}`,
    listeners: `PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://${HOST}:${advertisedPort}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': logDir,
    'num.partitions': 1,
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    'group.initial.rebalance.delay.ms': 0,
    ...options.serverProperties,
  };
  writeFileSync(propsFile, Object.entries(props).map(([k, v]) => `${k}=${String(v)}`).join('\n') + '\n');
  writeFileSync(log4jFile, log4jConfig(serverLog));

  const clusterId = randomClusterId();
  log(`Kafka ${version}: formatting ${logDir} (cluster ${clusterId})...`);
  const jvmCommon = [`-Dlog4j2.configurationFile=${log4jFile}`, `-Dkafka.logs.dir=${dataDir}`, '-cp', classpath];
  const formatCode = await runToCompletion(
    'java',
    [...jvmCommon, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propsFile, '--standalone'],
    join(dataDir, 'format.out'),
  );
  if (formatCode !== 0) {
    throw new Error(
      `kafka.tools.StorageTool format failed (exit ${formatCode}):\n${tail(join(dataDir, 'format.out'))}\n` +
        `Check ${propsFile}; re-provision with ${PROVISION_SCRIPT} if jars are missing.`,
    );
  }

  log(`starting Kafka ${version} on ${HOST}:${port} (controller ${controllerPort}, advertised ${advertisedPort}); logs: ${serverLog}, ${stdoutLog}`);
  const outFd = openSync(stdoutLog, 'a');
  const child: ChildProcess = spawn(
    'java',
    [`-Xmx${heapMiB}m`, `-Xms${Math.min(heapMiB, 256)}m`, '-XX:+UseG1GC', '-Djava.awt.headless=true', ...jvmCommon, 'kafka.Kafka', propsFile],
    { stdio: ['ignore', outFd, outFd] },
  );
  closeSync(outFd);
  let exited = false;
  let exitCode: number | null = null;
  const exitPromise = new Promise<void>((resolvePromise) => {
    child.once('exit', (code) => {
      exited = true;
      exitCode = code;
      resolvePromise();
    });
  });
  const killOnExit = (): void => {
    if (!exited) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  const stop = async (timeoutMs = 30_000): Promise<void> => {
    process.removeListener('exit', killOnExit);
    if (exited) return;
    log(`stopping Kafka (pid ${child.pid})...`);
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (!exited) {
        log(`Kafka did not stop within ${timeoutMs} ms; sending SIGKILL`);
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    await exitPromise;
    clearTimeout(timer);
    log(`Kafka stopped (exit ${exitCode ?? 'signal'})`);
  };

  const started = Date.now();
  let lastReport = started;
  for (;;) {
    if (exited) {
      throw new Error(
        `Kafka exited during startup (exit ${exitCode}). Last lines of ${serverLog}:\n${tail(serverLog)}\n` +
          `--- ${stdoutLog}:\n${tail(stdoutLog, 10)}\nIf the port is taken, pass another port.`,
      );
    }
    if (await probeApiVersions(port, 2000)) break;
    const now = Date.now();
    if (now - started > startTimeoutMs) {
      await stop(5000);
      throw new Error(
        `Kafka did not answer ApiVersions on ${HOST}:${port} within ${startTimeoutMs} ms. Last lines of ${serverLog}:\n${tail(serverLog)}`,
      );
    }
    if (now - lastReport >= 5000) {
      log(`waiting for Kafka to accept requests (${Math.round((now - started) / 1000)} s)...`);
      lastReport = now;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  log(`Kafka ${version} ready on ${HOST}:${port} after ${((Date.now() - started) / 1000).toFixed(1)} s (pid ${child.pid})`);

  return {
    host: HOST,
    port,
    controllerPort,
    advertisedPort,
    bootstrap: `${HOST}:${advertisedPort}`,
    version,
    kafkaHome,
    dataDir,
    logDir,
    serverLog,
    stdoutLog,
    pid: child.pid ?? -1,
    partitionDir: (topic: string, partition = 0) => join(logDir, `${topic}-${partition}`),
    stop,
  };
}
