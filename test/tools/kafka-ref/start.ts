// CLI: run a reference Kafka broker in the foreground until Ctrl-C / SIGTERM.
//
//   node test/tools/kafka-ref/start.ts <dataDir> [port] [--advertised-port N] [--controller-port N] [--provision]
//
// <dataDir> is wiped on start (only if it was created by kafka-ref or is empty).
import { parseArgs } from 'node:util';
import { provisionKafkaRef, startKafkaRef } from './kafka-ref.ts';

function usage(message: string): never {
  console.error(`${message}\nusage: start.ts <dataDir> [port] [--advertised-port N] [--controller-port N] [--provision]`);
  process.exit(2);
}

function parsePort(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) usage(`${name} must be a TCP port, got ${JSON.stringify(value)}`);
  return n;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'advertised-port': { type: 'string' },
    'controller-port': { type: 'string' },
    provision: { type: 'boolean', default: false },
  },
});
const dataDir = positionals[0] ?? usage('missing <dataDir>');
const port = parsePort(positionals[1], 'port');
const advertisedPort = parsePort(values['advertised-port'], '--advertised-port');
const controllerPort = parsePort(values['controller-port'], '--controller-port');

try {
  const kafkaHome = values.provision ? await provisionKafkaRef() : undefined;
  const kafka = await startKafkaRef({
    dataDir,
    ...(port !== undefined ? { port } : {}),
    ...(advertisedPort !== undefined ? { advertisedPort } : {}),
    ...(controllerPort !== undefined ? { controllerPort } : {}),
    ...(kafkaHome !== undefined ? { kafkaHome } : {}),
  });
  console.log(`BOOTSTRAP=${kafka.bootstrap}`);
  console.log(`KAFKA_VERSION=${kafka.version}`);
  console.log(`LOG_DIRS=${kafka.logDir}`);
  console.log(`SERVER_LOG=${kafka.serverLog}`);
  console.error('[kafka-ref] running; press Ctrl-C (or send SIGTERM) to stop');
  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    kafka.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
} catch (err) {
  console.error(`[kafka-ref] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
