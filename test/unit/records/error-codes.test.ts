// Lives with the records tests because the validator is its main consumer here; it checks the whole table.
import { describe, expect, it } from 'vitest';
import { ERROR_TABLE, ErrorCode, errorInfo, errorName, isRetriable, KafkaProtocolError } from '../../../broker/src/protocol/error-codes.ts';

describe('Kafka error table', () => {
  it('has unique codes and unique names, ordered by code', () => {
    const codes = ERROR_TABLE.map((e) => e.code);
    const names = ERROR_TABLE.map((e) => e.name);
    expect(new Set(codes).size).toBe(codes.length);
    expect(new Set(names).size).toBe(names.length);
    expect([...codes].sort((a, b) => a - b)).toEqual(codes);
  });

  it('covers every code from -1 to the highest without a gap (Kafka never skips a code)', () => {
    const codes = ERROR_TABLE.map((e) => e.code);
    const highest = codes[codes.length - 1]!;
    expect(codes[0]).toBe(-1);
    expect(highest).toBeGreaterThanOrEqual(133);
    expect(codes).toEqual(Array.from({ length: highest + 2 }, (_, i) => i - 1));
  });

  it('maps each name to its code through ErrorCode, errorName and errorInfo', () => {
    for (const info of ERROR_TABLE) {
      expect((ErrorCode as Record<string, number>)[info.name]).toBe(info.code);
      expect(errorName(info.code)).toBe(info.name);
      expect(errorInfo(info.code)).toBe(info);
      expect(info.name).toMatch(/^[A-Z][A-Z0-9_]*$/);
      if (info.code !== 0) expect(info.message.length).toBeGreaterThan(10);
    }
    expect(Object.keys(ErrorCode)).toHaveLength(ERROR_TABLE.length);
  });

  it('pins the codes other modules and clients depend on', () => {
    expect(ErrorCode.UNKNOWN_SERVER_ERROR).toBe(-1);
    expect(ErrorCode.NONE).toBe(0);
    expect(ErrorCode.CORRUPT_MESSAGE).toBe(2);
    expect(ErrorCode.NOT_LEADER_OR_FOLLOWER).toBe(6);
    expect(ErrorCode.MESSAGE_TOO_LARGE).toBe(10);
    expect(ErrorCode.RECORD_LIST_TOO_LARGE).toBe(18);
    expect(ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND).toBe(20);
    expect(ErrorCode.INVALID_TIMESTAMP).toBe(32);
    expect(ErrorCode.UNSUPPORTED_VERSION).toBe(35);
    expect(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT).toBe(43);
    expect(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER).toBe(45);
    expect(ErrorCode.INVALID_PRODUCER_EPOCH).toBe(47);
    expect(ErrorCode.UNKNOWN_LEADER_EPOCH).toBe(75);
    expect(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE).toBe(76);
    expect(ErrorCode.MEMBER_ID_REQUIRED).toBe(79);
    expect(ErrorCode.INVALID_RECORD).toBe(87);
    expect(ErrorCode.PRODUCER_FENCED).toBe(90);
    expect(ErrorCode.UNKNOWN_TOPIC_ID).toBe(100);
    expect(ErrorCode.INELIGIBLE_REPLICA).toBe(107);
    expect(ErrorCode.TRANSACTION_ABORTABLE).toBe(120);
    expect(ErrorCode.REBOOTSTRAP_REQUIRED).toBe(129);
    expect(ErrorCode.SHARE_SESSION_LIMIT_REACHED).toBe(133);
  });

  it("follows Kafka's RetriableException hierarchy for the retriable flag", () => {
    const retriable = ERROR_TABLE.filter((e) => e.retriable).map((e) => e.name);
    expect(retriable).toEqual([
      'CORRUPT_MESSAGE', 'UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'NOT_LEADER_OR_FOLLOWER',
      'REQUEST_TIMED_OUT', 'REPLICA_NOT_AVAILABLE', 'NETWORK_EXCEPTION', 'COORDINATOR_LOAD_IN_PROGRESS',
      'COORDINATOR_NOT_AVAILABLE', 'NOT_COORDINATOR', 'NOT_ENOUGH_REPLICAS', 'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
      'NOT_CONTROLLER', 'CONCURRENT_TRANSACTIONS', 'KAFKA_STORAGE_ERROR', 'FETCH_SESSION_ID_NOT_FOUND',
      'INVALID_FETCH_SESSION_EPOCH', 'LISTENER_NOT_FOUND', 'FENCED_LEADER_EPOCH', 'UNKNOWN_LEADER_EPOCH',
      'OFFSET_NOT_AVAILABLE', 'PREFERRED_LEADER_NOT_AVAILABLE', 'ELIGIBLE_LEADERS_NOT_AVAILABLE',
      'ELECTION_NOT_NEEDED', 'UNSTABLE_OFFSET_COMMIT', 'THROTTLING_QUOTA_EXCEEDED', 'UNKNOWN_TOPIC_ID',
      'INCONSISTENT_TOPIC_ID', 'FETCH_SESSION_TOPIC_ID_ERROR', 'SHARE_SESSION_NOT_FOUND',
      'INVALID_SHARE_SESSION_EPOCH', 'SHARE_SESSION_LIMIT_REACHED',
    ]);
    expect(isRetriable(ErrorCode.INVALID_RECORD)).toBe(false);
    expect(isRetriable(12345)).toBe(false);
  });

  it('names unassigned codes without throwing', () => {
    expect(errorName(9999)).toBe('UNKNOWN_ERROR_CODE(9999)');
    expect(errorInfo(-2)).toBeUndefined();
  });

  it('is immutable', () => {
    expect(Object.isFrozen(ErrorCode)).toBe(true);
    expect(Object.isFrozen(ERROR_TABLE)).toBe(true);
    expect(Object.isFrozen(ERROR_TABLE[0])).toBe(true);
  });
});

describe('KafkaProtocolError', () => {
  it('carries the code, the retriable flag and a message naming error and cause', () => {
    const error = new KafkaProtocolError(ErrorCode.CORRUPT_MESSAGE, 'batch at byte 0: crc mismatch', { cause: 'x' });
    expect(error).toBeInstanceOf(Error);
    expect(error.errorCode).toBe(2);
    expect(error.retriable).toBe(true);
    expect(error.detail).toBe('batch at byte 0: crc mismatch');
    expect(error.message).toBe('CORRUPT_MESSAGE: batch at byte 0: crc mismatch');
    expect(error.cause).toBe('x');
    expect(error.name).toBe('KafkaProtocolError');
  });
});
