/**
 * Control records: records of a control batch (attribute bit 5). Their key is `int16 version | int16 type`;
 * the value depends on the type. Transaction markers (types 0 abort, 1 commit) carry
 * `int16 version | int32 coordinatorEpoch` (Kafka's EndTransactionMarker, version 0). Types 2..6 (leader change,
 * snapshot header/footer, kraft version, kraft voters) carry KRaft messages encoded by the generated codecs.
 *
 * A transaction marker batch is transactional + control, has the producer's id and epoch, no sequence
 * (-1), one record and no compression, as Kafka's MemoryRecords.withEndTransactionMarker writes it.
 */
import { ErrorCode, KafkaProtocolError } from '../error-codes.ts';
import { buildRecordBatch } from './batch-builder.ts';
import { NO_PARTITION_LEADER_EPOCH } from './batch-header.ts';

export const ControlRecordType = {
  abort: 0,
  commit: 1,
  leaderChange: 2,
  snapshotHeader: 3,
  snapshotFooter: 4,
  kraftVersion: 5,
  kraftVoters: 6,
} as const;
export type ControlRecordTypeId = (typeof ControlRecordType)[keyof typeof ControlRecordType];

export const CONTROL_RECORD_KEY_VERSION = 0;
export const END_TXN_MARKER_VERSION = 0;
const CONTROL_KEY_BYTES = 4;
const END_TXN_MARKER_VALUE_BYTES = 6;

/** The key of a control record of `type`. */
export function controlRecordKey(type: number): Buffer {
  const key = Buffer.allocUnsafe(CONTROL_KEY_BYTES);
  key.writeInt16BE(CONTROL_RECORD_KEY_VERSION, 0);
  key.writeInt16BE(type, 2);
  return key;
}

/** The control type stored in a control record key at buf[keyOffset, keyOffset + keyLength). */
export function readControlRecordType(buf: Buffer, keyOffset: number, keyLength: number): number {
  // Kafka's ControlRecordType.parse needs at least version + type; later key versions may append fields.
  if (keyLength < CONTROL_KEY_BYTES) {
    throw new KafkaProtocolError(ErrorCode.INVALID_RECORD, `control record key of ${keyLength} bytes is shorter than ${CONTROL_KEY_BYTES}`);
  }
  return buf.readInt16BE(keyOffset + 2);
}

/** The value of a transaction marker record. */
export function endTxnMarkerValue(coordinatorEpoch: number): Buffer {
  const value = Buffer.allocUnsafe(END_TXN_MARKER_VALUE_BYTES);
  value.writeInt16BE(END_TXN_MARKER_VERSION, 0);
  value.writeInt32BE(coordinatorEpoch, 2);
  return value;
}

/** The coordinator epoch of a transaction marker value at buf[valueOffset, valueOffset + valueLength). */
export function readEndTxnMarkerCoordinatorEpoch(buf: Buffer, valueOffset: number, valueLength: number): number {
  if (valueLength < END_TXN_MARKER_VALUE_BYTES) {
    throw new KafkaProtocolError(ErrorCode.INVALID_RECORD, `transaction marker value of ${valueLength} bytes is shorter than ${END_TXN_MARKER_VALUE_BYTES}`);
  }
  return buf.readInt32BE(valueOffset + 2);
}

export interface TxnMarkerBatchInput {
  producerId: bigint;
  producerEpoch: number;
  /** true writes COMMIT, false ABORT. */
  commit: boolean;
  coordinatorEpoch: number;
  baseOffset?: bigint;
  partitionLeaderEpoch?: number;
  timestampMs?: bigint;
}

/** A control batch holding one COMMIT or ABORT marker for the producer's open transaction. */
export function buildTxnMarkerBatch(input: TxnMarkerBatchInput): Buffer {
  const timestampMs = input.timestampMs ?? BigInt(Date.now());
  return buildRecordBatch({
    baseOffset: input.baseOffset ?? 0n,
    partitionLeaderEpoch: input.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH,
    baseTimestampMs: timestampMs,
    producerId: input.producerId,
    producerEpoch: input.producerEpoch,
    transactional: true,
    control: true,
    records: [
      {
        key: controlRecordKey(input.commit ? ControlRecordType.commit : ControlRecordType.abort),
        value: endTxnMarkerValue(input.coordinatorEpoch),
        timestampMs,
      },
    ],
  });
}
