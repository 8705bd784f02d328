/**
 * InitProducerId (API 22) for idempotent producers: a fresh producer id with epoch 0 from the block this
 * broker holds. As in Kafka, a producer without a transactional id always gets a new id, even when it sends
 * its current one (KIP-360 epoch bumps go through the transaction coordinator). Transactional ids need that
 * coordinator, which is not implemented yet: they get COORDINATOR_NOT_AVAILABLE.
 */
import { defaultInitProducerIdResponse, type InitProducerIdRequest, type InitProducerIdResponse } from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { RequestContext } from '../server/request-context.ts';

export interface ProducerIdSource {
  /** The next unused producer id (allocates a new block from the controller when the current one is spent). */
  next(): Promise<bigint>;
}

/** Hands out ids from blocks reserved through the controller (AllocateProducerIds), one block at a time. */
export class ProducerIdManager implements ProducerIdSource {
  private nextId = 0n;
  private endId = 0n;
  private pending: Promise<void> | null = null;
  private readonly allocate: () => Promise<{ start: bigint; length: number }>;

  constructor(allocate: () => Promise<{ start: bigint; length: number }>) {
    this.allocate = allocate;
  }

  async next(): Promise<bigint> {
    while (this.nextId >= this.endId) {
      this.pending ??= this.allocate().then((block) => {
        this.nextId = block.start;
        this.endId = block.start + BigInt(block.length);
      }).finally(() => { this.pending = null; });
      await this.pending;
    }
    return this.nextId++;
  }
}

export function createInitProducerIdHandler(deps: { readonly producerIds: ProducerIdSource }) {
  return async (_ctx: RequestContext, request: InitProducerIdRequest): Promise<InitProducerIdResponse> => {
    const response = defaultInitProducerIdResponse();
    if (request.transactionalId !== null) {
      response.errorCode = ErrorCode.COORDINATOR_NOT_AVAILABLE;
      return response;
    }
    response.producerId = await deps.producerIds.next();
    response.producerEpoch = 0;
    return response;
  };
}
