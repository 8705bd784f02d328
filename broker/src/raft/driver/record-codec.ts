/**
 * Log entries <-> record batches v2, and snapshot files, in Kafka's KRaft formats:
 *
 * - A data entry is one batch whose records have a null key and the metadata record as value
 *   (PartitionLeaderEpoch = raft epoch, BaseTimestamp = the leader's append time).
 * - A leader-change entry is a control batch with one control record: key `int16 0 | int16 2`, value
 *   `int16 version | LeaderChangeMessage` (Kafka's ControlRecordUtils framing, version 0).
 * - A snapshot file `<20-digit end offset>-<10-digit epoch>.checkpoint` is: a control batch with the
 *   SnapshotHeaderRecord (type 3), data batches with the state machine's records, and a control batch with
 *   the SnapshotFooterRecord (type 4). Batch offsets inside a snapshot start at 0 (as Kafka's
 *   RecordsSnapshotWriter) and carry the snapshot's epoch.
 *
 * Offsets are numbers in the core (safe integers; a metadata log never gets near 2^53) and bigints on disk
 * and on the wire; conversions are checked here.
 */
import type { LogEntry } from '../core/raft-log.ts';
import { buildRecordBatch } from '../../protocol/records/batch-builder.ts';
import {
  BATCH_HEADER_BYTES,
  isBatchCrcValid,
  isControlBatch,
  readAttributes,
  readBaseOffset,
  readBaseTimestamp,
  readBatchSizeBytes,
  readLastOffset,
  readLeaderEpoch,
  readMagic,
  readRecordsCount,
  BATCH_MAGIC_V2,
} from '../../protocol/records/batch-header.ts';
import { ControlRecordType, controlRecordKey, readControlRecordType } from '../../protocol/records/control-records.ts';
import { forEachRecord, recordKey, recordValue } from '../../protocol/records/record-iterator.ts';
import {
  readLeaderChangeMessage,
  readSnapshotFooterRecord,
  readSnapshotHeaderRecord,
  writeLeaderChangeMessage,
  writeSnapshotFooterRecord,
  writeSnapshotHeaderRecord,
} from '../../protocol/generated/index.ts';
import { ZERO_UUID } from '../../protocol/wire/uuid.ts';
import { Reader } from '../../protocol/wire/reader.ts';
import { Writer } from '../../protocol/wire/writer.ts';

/** Version of the control record values we write (Kafka's *_CURRENT_VERSION in ControlRecordUtils). */
const CONTROL_VALUE_VERSION = 0;
/** Records per data batch in a snapshot file. */
const SNAPSHOT_BATCH_RECORDS = 1000;

export class RecordCodecError extends Error {
  override readonly name = 'RecordCodecError';
  readonly code = 'RAFT_RECORD_CODEC';
}

export function toOffset(value: bigint, what: string): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RecordCodecError(`${what} ${value} is out of range`);
  return Number(value);
}

function controlValue(write: (w: Writer) => void): Buffer {
  const w = new Writer(64);
  w.int16(CONTROL_VALUE_VERSION);
  write(w);
  return w.toBuffer();
}

/** Batches we built or decoded, by entry, so an entry is encoded once however often it is sent. */
const encoded = new WeakMap<LogEntry, Buffer>();

/** The record batch of one log entry (offsets and epoch as in the entry). */
export function encodeEntry(entry: LogEntry): Buffer {
  const cached = encoded.get(entry);
  if (cached !== undefined) return cached;
  const timestampMs = BigInt(entry.appendTimestamp);
  let batch: Buffer;
  if (entry.type === 'data') {
    batch = buildRecordBatch({
      baseOffset: BigInt(entry.baseOffset),
      partitionLeaderEpoch: entry.epoch,
      baseTimestampMs: timestampMs,
      records: entry.records.map((value) => ({ key: null, value: Buffer.from(value.buffer, value.byteOffset, value.byteLength) })),
    });
  } else {
    const value = controlValue((w) =>
      writeLeaderChangeMessage(
        w,
        {
          version: 0,
          leaderId: entry.leaderId,
          voters: entry.voters.map((voterId) => ({ voterId, voterDirectoryId: ZERO_UUID })),
          grantingVoters: entry.grantingVoters.map((voterId) => ({ voterId, voterDirectoryId: ZERO_UUID })),
        },
        0,
      ),
    );
    batch = buildRecordBatch({
      baseOffset: BigInt(entry.baseOffset),
      partitionLeaderEpoch: entry.epoch,
      baseTimestampMs: timestampMs,
      control: true,
      records: [{ key: controlRecordKey(ControlRecordType.leaderChange), value }],
    });
  }
  encoded.set(entry, batch);
  return batch;
}

/** The batches of several entries, back to back. */
export function encodeEntries(entries: readonly LogEntry[]): Buffer {
  return entries.length === 1 ? encodeEntry(entries[0] as LogEntry) : Buffer.concat(entries.map(encodeEntry));
}

interface BatchView {
  readonly at: number;
  readonly size: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly epoch: number;
  readonly timestamp: number;
  readonly control: boolean;
}

/** Walks whole v2 batches in `buf`, checking framing and CRC; a partial trailing batch is an error. */
function* batchesOf(buf: Buffer, what: string): Generator<BatchView> {
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at < BATCH_HEADER_BYTES) throw new RecordCodecError(`${what}: ${buf.length - at} trailing bytes at ${at}`);
    const size = readBatchSizeBytes(buf, at);
    if (size < BATCH_HEADER_BYTES || at + size > buf.length) throw new RecordCodecError(`${what}: batch at ${at} declares ${size} bytes`);
    if (readMagic(buf, at) !== BATCH_MAGIC_V2) throw new RecordCodecError(`${what}: batch at ${at} is not magic 2`);
    if (!isBatchCrcValid(buf.subarray(at, at + size), 0)) throw new RecordCodecError(`${what}: batch at ${at} fails its CRC`);
    yield {
      at,
      size,
      baseOffset: toOffset(readBaseOffset(buf, at), `${what}: base offset`),
      lastOffset: toOffset(readLastOffset(buf, at), `${what}: last offset`),
      epoch: readLeaderEpoch(buf, at),
      timestamp: Number(readBaseTimestamp(buf, at)),
      control: isControlBatch(readAttributes(buf, at)),
    };
    at += size;
  }
}

interface RawRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
}

function recordsOf(buf: Buffer, batch: BatchView): RawRecord[] {
  const out: RawRecord[] = [];
  const view = buf.subarray(batch.at, batch.at + batch.size);
  forEachRecord(view, 0, (record) => {
    const key = recordKey(record);
    const value = recordValue(record);
    out.push({ key: key === null ? null : Buffer.from(key), value: value === null ? null : Buffer.from(value) });
  });
  if (out.length !== readRecordsCount(view, 0)) throw new RecordCodecError(`batch at offset ${batch.baseOffset}: record count mismatch`);
  return out;
}

function controlTypeOf(record: RawRecord, offset: number): number {
  if (record.key === null) throw new RecordCodecError(`control record at offset ${offset} has no key`);
  return readControlRecordType(record.key, 0, record.key.length);
}

/** Reads `int16 version | message` (Kafka's control record value framing). */
function readControlValue<T>(value: Buffer | null, offset: number, read: (r: Reader, version: number) => T): T {
  if (value === null || value.length < 2) throw new RecordCodecError(`control record at offset ${offset} has no value`);
  const r = new Reader(value);
  const version = r.int16();
  return read(r, version);
}

/** Decodes whole record batches (from the log or a fetch response) into log entries. */
export function decodeEntries(buf: Buffer, what = 'metadata log'): LogEntry[] {
  const entries: LogEntry[] = [];
  for (const batch of batchesOf(buf, what)) {
    const records = recordsOf(buf, batch);
    if (batch.lastOffset - batch.baseOffset + 1 !== records.length) {
      throw new RecordCodecError(`${what}: batch at ${batch.baseOffset} covers ${batch.lastOffset - batch.baseOffset + 1} offsets with ${records.length} records (compacted metadata logs are not supported)`);
    }
    let entry: LogEntry;
    if (!batch.control) {
      entry = {
        type: 'data',
        baseOffset: batch.baseOffset,
        lastOffset: batch.lastOffset,
        epoch: batch.epoch,
        appendTimestamp: batch.timestamp,
        records: records.map((r, i) => {
          if (r.value === null) throw new RecordCodecError(`${what}: record at offset ${batch.baseOffset + i} has no value`);
          return r.value;
        }),
      };
    } else {
      const first = records[0];
      if (first === undefined || records.length !== 1) throw new RecordCodecError(`${what}: control batch at ${batch.baseOffset} holds ${records.length} records`);
      const type = controlTypeOf(first, batch.baseOffset);
      if (type !== ControlRecordType.leaderChange) {
        // KRaftVersion / Voters records (KIP-853) and transaction markers never appear in our metadata log.
        throw new RecordCodecError(`${what}: control record type ${type} at offset ${batch.baseOffset} is not supported`);
      }
      const message = readControlValue(first.value, batch.baseOffset, readLeaderChangeMessage);
      entry = {
        type: 'leader-change',
        baseOffset: batch.baseOffset,
        lastOffset: batch.lastOffset,
        epoch: batch.epoch,
        appendTimestamp: batch.timestamp,
        leaderId: message.leaderId,
        voters: message.voters.map((v) => v.voterId),
        grantingVoters: message.grantingVoters.map((v) => v.voterId),
      };
    }
    encoded.set(entry, buf.subarray(batch.at, batch.at + batch.size));
    entries.push(entry);
  }
  return entries;
}

// ---- snapshots -----------------------------------------------------------------------------------------

export interface SnapshotIdBig {
  readonly endOffset: bigint;
  readonly epoch: number;
}

/** `<20-digit end offset>-<10-digit epoch>.checkpoint` (Kafka's Snapshots.filenameFromSnapshotId). */
export function snapshotFileName(id: SnapshotIdBig): string {
  return `${id.endOffset.toString().padStart(20, '0')}-${String(id.epoch).padStart(10, '0')}.checkpoint`;
}

const SNAPSHOT_FILE_PATTERN = /^(\d{20})-(\d{10})\.checkpoint$/;

export function parseSnapshotFileName(name: string): SnapshotIdBig | null {
  const m = SNAPSHOT_FILE_PATTERN.exec(name);
  if (m === null || m[1] === undefined || m[2] === undefined) return null;
  return { endOffset: BigInt(m[1]), epoch: Number(m[2]) };
}

/** The bytes of a snapshot file holding `records` (state machine record values). */
export function encodeSnapshot(epoch: number, records: readonly Uint8Array[], lastContainedLogTimestamp: number): Buffer {
  const timestampMs = BigInt(Math.max(0, lastContainedLogTimestamp));
  const batches: Buffer[] = [];
  let offset = 0n;
  const control = (type: number, value: Buffer): void => {
    batches.push(buildRecordBatch({ baseOffset: offset, partitionLeaderEpoch: epoch, baseTimestampMs: timestampMs, control: true, records: [{ key: controlRecordKey(type), value }] }));
    offset += 1n;
  };
  control(ControlRecordType.snapshotHeader, controlValue((w) => writeSnapshotHeaderRecord(w, { version: 0, lastContainedLogTimestamp: timestampMs }, 0)));
  for (let i = 0; i < records.length; i += SNAPSHOT_BATCH_RECORDS) {
    const chunk = records.slice(i, i + SNAPSHOT_BATCH_RECORDS);
    batches.push(
      buildRecordBatch({
        baseOffset: offset,
        partitionLeaderEpoch: epoch,
        baseTimestampMs: timestampMs,
        records: chunk.map((value) => ({ key: null, value: Buffer.from(value.buffer, value.byteOffset, value.byteLength) })),
      }),
    );
    offset += BigInt(chunk.length);
  }
  control(ControlRecordType.snapshotFooter, controlValue((w) => writeSnapshotFooterRecord(w, { version: 0 }, 0)));
  return Buffer.concat(batches);
}

export interface DecodedSnapshot {
  readonly records: Buffer[];
  readonly lastContainedLogTimestamp: number;
}

/** Decodes and validates a snapshot file: header first, footer last, CRCs, no other control records. */
export function decodeSnapshot(bytes: Uint8Array): DecodedSnapshot {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Buffer[] = [];
  let header: number | null = null;
  let footer = false;
  for (const batch of batchesOf(buf, 'snapshot')) {
    if (footer) throw new RecordCodecError('snapshot: batches after the footer');
    const raw = recordsOf(buf, batch);
    if (batch.control) {
      const first = raw[0];
      if (first === undefined || raw.length !== 1) throw new RecordCodecError(`snapshot: control batch with ${raw.length} records`);
      const type = controlTypeOf(first, batch.baseOffset);
      if (type === ControlRecordType.snapshotHeader && header === null && records.length === 0) {
        header = Number(readControlValue(first.value, batch.baseOffset, readSnapshotHeaderRecord).lastContainedLogTimestamp);
      } else if (type === ControlRecordType.snapshotFooter && header !== null) {
        readControlValue(first.value, batch.baseOffset, readSnapshotFooterRecord);
        footer = true;
      } else if (type !== ControlRecordType.kraftVersion && type !== ControlRecordType.kraftVoters) {
        throw new RecordCodecError(`snapshot: unexpected control record type ${type}`);
      }
      continue;
    }
    if (header === null) throw new RecordCodecError('snapshot: data before the header');
    for (const r of raw) {
      if (r.value === null) throw new RecordCodecError('snapshot: a record has no value');
      records.push(r.value);
    }
  }
  if (header === null || !footer) throw new RecordCodecError(`snapshot: missing ${header === null ? 'header' : 'footer'}`);
  return { records, lastContainedLogTimestamp: header };
}
