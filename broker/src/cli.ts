/**
 * The broker process (entered through main.ts): `node broker/src/main.ts [server.properties] [--override key=value ...]`.
 *
 * Without a properties file (and without MILLRACE_CONFIG_FILE) it uses broker/config/server.properties: a
 * single-node broker on 127.0.0.1:9092 with its data in ./data. SIGTERM and SIGINT shut it down cleanly.
 */
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { Broker } from './broker.ts';
import { brokerSettings } from './settings.ts';
import { isConfigError, loadBrokerConfig, parseBrokerCommandLine } from './config/index.ts';

const DEFAULT_PROPERTIES = fileURLToPath(new URL('../config/server.properties', import.meta.url));

async function main(): Promise<number> {
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'info', base: { service: 'millrace-broker' } });
  const cli = parseBrokerCommandLine(process.argv.slice(2));
  if (cli.problems.length > 0) {
    for (const p of cli.problems) logger.error(p.message);
    logger.error('usage: node broker/src/main.ts [server.properties] [--override key=value ...]');
    return 2;
  }
  const propertiesFile = cli.propertiesFile ?? process.env['MILLRACE_CONFIG_FILE'] ?? DEFAULT_PROPERTIES;
  let loaded;
  try {
    loaded = loadBrokerConfig({ propertiesFile, overrides: cli.overrides });
  } catch (error) {
    if (!isConfigError(error)) throw error;
    logger.error({ problems: error.problems }, error.message);
    return 2;
  }
  for (const warning of loaded.warnings) logger.warn(warning);
  // An unrecoverable metadata quorum error (I/O, invariant): exit non-zero so a supervisor restarts us.
  const broker = new Broker(brokerSettings(loaded.config), logger, { onFatalError: () => process.exit(1) });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    broker.shutdown().then(() => process.exit(0), (error: unknown) => {
      logger.error({ err: error }, 'shutdown failed; the next start will recover the logs');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    await broker.start();
  } catch (error) {
    logger.error({ err: error }, `startup failed: ${error instanceof Error ? error.message : String(error)}`);
    await broker.shutdown().catch(() => undefined);
    return 1;
  }
  return 0;
}

main().then((code) => { if (code !== 0) process.exit(code); }, (error: unknown) => {
  console.error(error);
  process.exit(1);
});
