import { describe, expect, it } from 'vitest';
import { parseDuration, parseListenAddress, parseOperatorArgs, UsageError } from '../../../../operator/src/controllers/operator-config.ts';

describe('parseOperatorArgs', () => {
  it('defaults: Lease in "default", all namespaces, 0.0.0.0:8080, leader election on, 60 s topic resync', () => {
    expect(parseOperatorArgs([], {})).toEqual({
      help: false,
      leaseNamespace: 'default',
      leaseName: 'millrace-operator-leader',
      leaderElection: true,
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      watchNamespace: undefined,
      metricsHost: '0.0.0.0',
      metricsPort: 8080,
      topicResyncMs: 60_000,
      topicDeletionTimeoutMs: 300_000,
      gracefulShutdownTimeoutMs: 30_000,
      logLevel: 'info',
    });
  });

  it('reads POD_NAMESPACE, WATCH_NAMESPACE and LOG_LEVEL; flags win over the environment', () => {
    const env = { POD_NAMESPACE: 'kafka-system', WATCH_NAMESPACE: 'apps', LOG_LEVEL: 'DEBUG' };
    expect(parseOperatorArgs([], env)).toMatchObject({ leaseNamespace: 'kafka-system', watchNamespace: 'apps', logLevel: 'debug' });
    expect(parseOperatorArgs(['--namespace', 'ops', '--watch-namespace', 'other', '--log-level', 'warn'], env)).toMatchObject({ leaseNamespace: 'ops', watchNamespace: 'other', logLevel: 'warn' });
    expect(parseOperatorArgs([], { WATCH_NAMESPACE: '' }).watchNamespace).toBeUndefined();
  });

  it('parses every flag', () => {
    const config = parseOperatorArgs([
      '--metrics-address=127.0.0.1:0', '--no-leader-elect', '--lease-name', 'x', '--lease-duration', '4s', '--renew-deadline', '3s',
      '--retry-period', '500ms', '--topic-resync', '1s', '--topic-deletion-timeout', '10m', '--graceful-shutdown-timeout', '5s',
    ], {});
    expect(config).toMatchObject({
      metricsHost: '127.0.0.1', metricsPort: 0, leaderElection: false, leaseName: 'x', leaseDurationMs: 4_000, renewDeadlineMs: 3_000,
      retryPeriodMs: 500, topicResyncMs: 1_000, topicDeletionTimeoutMs: 600_000, gracefulShutdownTimeoutMs: 5_000,
    });
    expect(parseOperatorArgs(['-h'], {}).help).toBe(true);
  });

  it('refuses bad input with a UsageError naming the flag', () => {
    const refused = (argv: string[], env: Record<string, string> = {}): string => {
      try {
        parseOperatorArgs(argv, env);
      } catch (error) {
        expect(error).toBeInstanceOf(UsageError);
        return (error as Error).message;
      }
      throw new Error(`accepted ${argv.join(' ')}`);
    };
    expect(refused(['--bogus'])).toContain("Unknown option '--bogus'");
    expect(refused(['extra'])).toContain('extra');
    expect(refused(['--namespace', 'Bad_NS'])).toContain('--namespace: "Bad_NS" is not a valid namespace name');
    expect(refused([], { POD_NAMESPACE: 'Bad_NS' })).toContain('POD_NAMESPACE');
    expect(refused(['--metrics-address', 'nowhere'])).toContain('--metrics-address');
    expect(refused(['--lease-duration', '4500ms', '--renew-deadline', '3s', '--retry-period', '1s'])).toContain('whole seconds');
    expect(refused(['--lease-duration', '5s'])).toContain('must be longer than --renew-deadline');
    expect(refused(['--renew-deadline', '2s', '--lease-duration', '4s'])).toContain('1.2 x --retry-period');
    expect(refused(['--log-level', 'loud'])).toContain('--log-level');
    expect(refused(['--topic-resync', '0s'])).toContain('greater than zero');
  });
});

describe('durations and addresses', () => {
  it('parses durations with units', () => {
    expect(parseDuration('f', '500ms')).toBe(500);
    expect(parseDuration('f', '1.5s')).toBe(1500);
    expect(parseDuration('f', '2m')).toBe(120_000);
    expect(parseDuration('f', '1h')).toBe(3_600_000);
    expect(() => parseDuration('--x', '10')).toThrow('--x: "10" is not a duration');
  });

  it('parses listen addresses', () => {
    expect(parseListenAddress('f', '0.0.0.0:8080')).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(parseListenAddress('f', ':9090')).toEqual({ host: '0.0.0.0', port: 9090 });
    expect(parseListenAddress('f', '[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(() => parseListenAddress('f', 'host:70000')).toThrow(UsageError);
  });
});
