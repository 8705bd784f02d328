/**
 * Log entries <-> record batches v2, and snapshot files, in Kafka's KRaft formats:
 *
 * - A data entry is one batch whose records have a null key and the metadata record as value
 *   (PartitionLeaderEpoch = raft epoch, BaseTimestamp = the leader's append time).
 * - Control records have the key `int16 0 | int16 type` and the message as value (the message's own
 *   leading Version field is the only version: Kafka's MessageUtil.toByteBufferAccessor). Values written
 *   by earlier Millrace builds carried an extra `int16 0` before the message; they are still read.
 * - A leader-change entry is a control batch with a LeaderChangeMessage (type 2); with dynamic voters the
 *   first leader after a bootstrap checkpoint adds a KRaftVersionRecord (type 5) and a VotersRecord
 *   (type 6) to that batch. A voters entry is a control batch ending with a VotersRecord (optionally
 *   preceded by a KRaftVersionRecord).
 * - A snapshot file `<20-digit end offset>-<10-digit epoch>.checkpoint` is: a control batch with the
 *   SnapshotHeaderRecord (type 3) followed, with dynamic voters (kraft.version 1), by a KRaftVersionRecord
 *   and the VotersRecord in effect at the snapshot's end (as Kafka's RecordsSnapshotWriter), data batches
 *   with the state machine's records, and a control batch with the SnapshotFooterRecord (type 4). Batch
 *   offsets inside a snapshot start at 0 and carry the snapshot's epoch. The bootstrap checkpoint
 *   `00000000000000000000-0000000000.checkpoint` (`kafka-storage format --standalone` /
 *   `--initial-controllers`) is such a snapshot with no data.
 *
 * Offsets are numbers in the core (safe integers; a metadata log never gets near 2^53) and bigints on disk
 * and on the wire; conversions are checked here.
 */
import type { LogEntry } from '../core/raft-log.ts';
import { KRAFT_VERSION_RECONFIG, normalize, type VoterSet } from '../core/voter-set.ts';
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
  readKRaftVersionRecord,
  readLeaderChangeMessage,
  readSnapshotFooterRecord,
  readSnapshotHeaderRecord,
  readVotersRecord,
  writeKRaftVersionRecord,
  writeLeaderChangeMessage,
  writeSnapshotFooterRecord,
  writeSnapshotHeaderRecord,
  writeVotersRecord,
  type VotersRecord,
} from '../../protocol/generated/index.ts';
import { ZERO_UUID } from '../../protocol/wire/uuid.ts';
import { Reader } from '../../protocol/wire/reader.ts';
import { Writer } from '../../protocol/wire/writer.ts';

/** Version of the control record values we write (Kafka's *_CURRENT_VERSION in ControlRecordUtils). */
const CONTROL_VALUE_VERSION = 0;
/** KRaftVersionRecord / VotersRecord versions (Kafka's KRAFT_VERSION_CURRENT_VERSION, KRAFT_VOTERS_CURRENT_VERSION). */
const KRAFT_RECORD_VERSION = 0;
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
  write(w);
  return w.toBuffer();
}

/** A voter set as Kafka's VotersRecord. */
export function toVotersRecord(voters: VoterSet): VotersRecord {
  return {
    version: KRAFT_RECORD_VERSION,
    voters: voters.map((v) => ({
      voterId: v.id,
      voterDirectoryId: v.directoryId,
      endpoints: v.endpoints.map((e) => ({ name: e.name, host: e.host, port: e.port })),
      kRaftVersionFeature: { minSupportedVersion: v.kraftVersion.min, maxSupportedVersion: v.kraftVersion.max },
    })),
  };
}

export function fromVotersRecord(record: VotersRecord): VoterSet {
  return normalize(
    record.voters.map((v) => ({
      id: v.voterId,
      directoryId: v.voterDirectoryId,
      endpoints: v.endpoints.map((e) => ({ name: e.name, host: e.host, port: e.port })),
      kraftVersion: { min: v.kRaftVersionFeature.minSupportedVersion, max: v.kRaftVersionFeature.maxSupportedVersion },
    })),
  );
}

interface ControlRecord {
  readonly key: Buffer;
  readonly value: Buffer;
}

function kraftVersionRecord(): ControlRecord {
  return { key: controlRecordKey(ControlRecordType.kraftVersion), value: controlValue((w) => writeKRaftVersionRecord(w, { version: KRAFT_RECORD_VERSION, kRaftVersion: KRAFT_VERSION_RECONFIG }, 0)) };
}

function votersRecord(voters: VoterSet): ControlRecord {
  return { key: controlRecordKey(ControlRecordType.kraftVoters), value: controlValue((w) => writeVotersRecord(w, toVotersRecord(voters), 0)) };
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
    const records: ControlRecord[] = [];
    if (entry.type === 'leader-change') {
      const value = controlValue((w) =>
        writeLeaderChangeMessage(
          w,
          {
            version: CONTROL_VALUE_VERSION,
            leaderId: entry.leaderId,
            voters: entry.voters.map((voterId) => ({ voterId, voterDirectoryId: ZERO_UUID })),
            grantingVoters: entry.grantingVoters.map((voterId) => ({ voterId, voterDirectoryId: ZERO_UUID })),
          },
          0,
        ),
      );
      records.push({ key: controlRecordKey(ControlRecordType.leaderChange), value });
      if (entry.voterSet !== undefined) records.push(kraftVersionRecord(), votersRecord(entry.voterSet));
    } else {
      if (entry.lastOffset > entry.baseOffset) records.push(kraftVersionRecord());
      records.push(votersRecord(entry.voterSet));
    }
    if (records.length !== entry.lastOffset - entry.baseOffset + 1) throw new RecordCodecError(`control batch at ${entry.baseOffset}: ${records.length} records for offsets ${entry.baseOffset}..${entry.lastOffset}`);
    batch = buildRecordBatch({
      baseOffset: BigInt(entry.baseOffset),
      partitionLeaderEpoch: entry.epoch,
      baseTimestampMs: timestampMs,
      control: true,
      records,
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

/**
 * Reads a control record value: the message itself (its leading Version field included), as Kafka writes
 * it; or, from logs written by earlier Millrace builds, `int16 0 | message`.
 */
function readControlValue<T>(value: Buffer | null, offset: number, read: (r: Reader, version: number) => T): T {
  if (value === null || value.length < 2) throw new RecordCodecError(`control record at offset ${offset} has no value`);
  try {
    const r = new Reader(value);
    const message = read(r, 0);
    if (r.remaining === 0) return message;
  } catch {
    // fall through to the legacy framing
  }
  try {
    const r = new Reader(value, 2);
    const message = read(r, 0);
    if (r.remaining === 0) return message;
  } catch {
    // reported below
  }
  throw new RecordCodecError(`control record at offset ${offset}: undecodable value`);
}

/** The voter set of a control batch's records (KRaftVersionRecord? VotersRecord), checking kraft.version 1. */
function readKRaftRecords(records: readonly RawRecord[], offset: number, what: string): VoterSet | undefined {
  let voters: VoterSet | undefined;
  for (const [i, record] of records.entries()) {
    const type = controlTypeOf(record, offset + i);
    if (type === ControlRecordType.kraftVersion) {
      const version = readControlValue(record.value, offset + i, readKRaftVersionRecord).kRaftVersion;
      if (version !== KRAFT_VERSION_RECONFIG) throw new RecordCodecError(`${what}: kraft.version ${version} at offset ${offset + i} is not supported`);
    } else if (type === ControlRecordType.kraftVoters) {
      voters = fromVotersRecord(readControlValue(record.value, offset + i, readVotersRecord));
    } else {
      throw new RecordCodecError(`${what}: control record type ${type} at offset ${offset + i} is not supported here`);
    }
  }
  return voters;
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
      if (first === undefined) throw new RecordCodecError(`${what}: empty control batch at ${batch.baseOffset}`);
      const type = controlTypeOf(first, batch.baseOffset);
      const base = { baseOffset: batch.baseOffset, lastOffset: batch.lastOffset, epoch: batch.epoch, appendTimestamp: batch.timestamp };
      if (type === ControlRecordType.leaderChange) {
        const message = readControlValue(first.value, batch.baseOffset, readLeaderChangeMessage);
        const voterSet = readKRaftRecords(records.slice(1), batch.baseOffset + 1, what);
        entry = {
          type: 'leader-change',
          ...base,
          leaderId: message.leaderId,
          voters: message.voters.map((v) => v.voterId),
          grantingVoters: message.grantingVoters.map((v) => v.voterId),
          ...(voterSet === undefined ? {} : { voterSet }),
        };
      } else if (type === ControlRecordType.kraftVersion || type === ControlRecordType.kraftVoters) {
        const voterSet = readKRaftRecords(records, batch.baseOffset, what);
        const last = records.at(-1);
        if (voterSet === undefined || last === undefined || controlTypeOf(last, batch.lastOffset) !== ControlRecordType.kraftVoters) {
          throw new RecordCodecError(`${what}: control batch at ${batch.baseOffset} does not end with a VotersRecord`);
        }
        entry = { type: 'voters', ...base, voterSet };
      } else {
        // Transaction markers never appear in the metadata log.
        throw new RecordCodecError(`${what}: control record type ${type} at offset ${batch.baseOffset} is not supported`);
      }
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

/**
 * The bytes of a snapshot file holding `records` (state machine record values) and, with dynamic voters,
 * the voter set in effect at its end (`voters`; null with static voters).
 */
export function encodeSnapshot(epoch: number, records: readonly Uint8Array[], lastContainedLogTimestamp: number, voters: VoterSet | null = null): Buffer {
  const timestampMs = BigInt(Math.max(0, lastContainedLogTimestamp));
  const batches: Buffer[] = [];
  let offset = 0n;
  const control = (controlRecords: readonly ControlRecord[]): void => {
    batches.push(buildRecordBatch({ baseOffset: offset, partitionLeaderEpoch: epoch, baseTimestampMs: timestampMs, control: true, records: controlRecords }));
    offset += BigInt(controlRecords.length);
  };
  const header: ControlRecord = { key: controlRecordKey(ControlRecordType.snapshotHeader), value: controlValue((w) => writeSnapshotHeaderRecord(w, { version: CONTROL_VALUE_VERSION, lastContainedLogTimestamp: timestampMs }, 0)) };
  control(voters === null ? [header] : [header, kraftVersionRecord(), votersRecord(voters)]);
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
  control([{ key: controlRecordKey(ControlRecordType.snapshotFooter), value: controlValue((w) => writeSnapshotFooterRecord(w, { version: CONTROL_VALUE_VERSION }, 0)) }]);
  return Buffer.concat(batches);
}

/** The bootstrap checkpoint (snapshot 0-0) of `kafka-storage format --standalone / --initial-controllers`. */
export function encodeBootstrapSnapshot(voters: VoterSet): Buffer {
  return encodeSnapshot(0, [], 0, voters);
}

export interface DecodedSnapshot {
  readonly records: Buffer[];
  readonly lastContainedLogTimestamp: number;
  /** The voter set the snapshot holds (kraft.version 1), or null. */
  readonly voters: VoterSet | null;
}

/** Decodes and validates a snapshot file: header first, footer last, CRCs, no other control records. */
export function decodeSnapshot(bytes: Uint8Array): DecodedSnapshot {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Buffer[] = [];
  let header: number | null = null;
  let footer = false;
  let voters: VoterSet | null = null;
  for (const batch of batchesOf(buf, 'snapshot')) {
    if (footer) throw new RecordCodecError('snapshot: batches after the footer');
    const raw = recordsOf(buf, batch);
    if (batch.control) {
      for (const [i, record] of raw.entries()) {
        const offset = batch.baseOffset + i;
        const type = controlTypeOf(record, offset);
        if (type === ControlRecordType.snapshotHeader && header === null && records.length === 0) {
          header = Number(readControlValue(record.value, offset, readSnapshotHeaderRecord).lastContainedLogTimestamp);
        } else if (type === ControlRecordType.snapshotFooter && header !== null) {
          readControlValue(record.value, offset, readSnapshotFooterRecord);
          footer = true;
        } else if ((type === ControlRecordType.kraftVersion || type === ControlRecordType.kraftVoters) && header !== null && records.length === 0) {
          voters = readKRaftRecords([record], offset, 'snapshot') ?? voters;
        } else {
          throw new RecordCodecError(`snapshot: unexpected control record type ${type} at ${offset}`);
        }
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
  return { records, lastContainedLogTimestamp: header, voters };
}

/** The voter set a snapshot holds, reading only its leading control batches (the core's `snapshotVoters`). */
export function readSnapshotVoters(bytes: Uint8Array): VoterSet | null {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let voters: VoterSet | null = null;
  for (const batch of batchesOf(buf, 'snapshot')) {
    if (!batch.control) break;
    for (const [i, record] of recordsOf(buf, batch).entries()) {
      const type = controlTypeOf(record, batch.baseOffset + i);
      if (type === ControlRecordType.kraftVersion || type === ControlRecordType.kraftVoters) voters = readKRaftRecords([record], batch.baseOffset + i, 'snapshot') ?? voters;
    }
  }
  return voters;
}
