import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { SocketServer } from '../../../broker/src/server/socket-server.ts';
import { createApiVersionsHandler } from '../../../broker/src/api/api-versions-handler.ts';
import { advertisedVersions, KAFKA_40_CONTROLLER_RANGES } from '../../../broker/src/server/api-versions.ts';
import type { HandlerTable } from '../../../broker/src/server/request-context.ts';
import { ControllerChannel, ControllerUnavailableError } from '../../../broker/src/cluster/controller-channel.ts';
import { ErrorCode } from '../../../broker/src/protocol/error-codes.ts';
import { defaultBrokerHeartbeatRequest, defaultBrokerHeartbeatResponse } from '../../../broker/src/protocol/generated/index.ts';

const logger = pino({ level: 'silent' });
const servers: SocketServer[] = [];
const channels: ControllerChannel[] = [];

afterEach(async () => {
  for (const c of channels.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A fake controller: answers BrokerHeartbeat with `errorCode` and counts the requests. */
async function controller(errorCode: () => number): Promise<{ port: number; heartbeats: () => number }> {
  let heartbeats = 0;
  const handlers: HandlerTable = {
    63: () => { heartbeats++; return { ...defaultBrokerHeartbeatResponse(), errorCode: errorCode(), isFenced: false }; },
  };
  const advertised = advertisedVersions([18, 63], KAFKA_40_CONTROLLER_RANGES);
  handlers[18] = createApiVersionsHandler({ advertised: () => advertised, supportedFeatures: [], finalizedFeatures: () => ({ epoch: -1n, levels: new Map() }) });
  const server = new SocketServer({
    listenerName: 'CONTROLLER', host: '127.0.0.1', port: 0, maxRequestBytes: 1 << 20, idleTimeoutMs: 60_000, handlers, logger,
    acceptsVersion: (apiKey, version) => { const r = advertised.get(apiKey); return r !== undefined && version >= r.min && version <= r.max; },
  });
  servers.push(server);
  return { port: await server.listen(), heartbeats: () => heartbeats };
}

const heartbeat = { ...defaultBrokerHeartbeatRequest(), brokerId: 4, brokerEpoch: 10n };

describe('ControllerChannel', () => {
  it('follows the quorum leader: NOT_CONTROLLER from the old leader, then the new leader answers', async () => {
    let leader = 1;
    const a = await controller(() => ErrorCode.NOT_CONTROLLER);
    const b = await controller(() => ErrorCode.NONE);
    const channel = new ControllerChannel({
      controllers: [{ id: 1, host: '127.0.0.1', port: a.port }, { id: 2, host: '127.0.0.1', port: b.port }],
      leaderId: () => leader, local: null, clientId: 'test', logger, retryBackoffMs: 10,
    });
    channels.push(channel);
    setTimeout(() => { leader = 2; }, 50);
    const response = await channel.send(63, heartbeat, { timeoutMs: 5000 });
    expect(response.errorCode).toBe(ErrorCode.NONE);
    expect(a.heartbeats()).toBeGreaterThan(0);
    expect(b.heartbeats()).toBe(1);
  });

  it('tries each controller in turn while the leader is unknown', async () => {
    const down = await controller(() => ErrorCode.NOT_CONTROLLER);
    const active = await controller(() => ErrorCode.NONE);
    const channel = new ControllerChannel({
      controllers: [{ id: 1, host: '127.0.0.1', port: down.port }, { id: 2, host: '127.0.0.1', port: active.port }],
      leaderId: () => null, local: null, clientId: 'test', logger, retryBackoffMs: 10,
    });
    channels.push(channel);
    expect((await channel.send(63, heartbeat, { timeoutMs: 5000 })).errorCode).toBe(ErrorCode.NONE);
  });

  it('uses the local controller in-process while it is active', async () => {
    let calls = 0;
    const channel = new ControllerChannel({
      controllers: [], leaderId: () => 1, clientId: 'test', logger,
      local: { isActive: () => true, handle: (apiKey, version, request) => { calls++; expect([apiKey, version, request]).toEqual([63, 1, heartbeat]); return Promise.resolve({ ...defaultBrokerHeartbeatResponse(), errorCode: 0 }) as never; } },
    });
    channels.push(channel);
    expect((await channel.send(63, heartbeat)).errorCode).toBe(ErrorCode.NONE);
    expect(calls).toBe(1);
  });

  it('gives up at the deadline with the cause when no controller can be reached', async () => {
    const channel = new ControllerChannel({
      controllers: [{ id: 1, host: '127.0.0.1', port: 1 }], leaderId: () => 1, local: null, clientId: 'test', logger, retryBackoffMs: 20,
    });
    channels.push(channel);
    const started = Date.now();
    const error = await channel.send(63, heartbeat, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ControllerUnavailableError);
    expect((error as Error).message).toMatch(/BrokerHeartbeat could not reach the active controller: .*ECONNREFUSED/);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
