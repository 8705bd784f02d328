/**
 * KRaft metadata record framing (Kafka's MetadataRecordSerde): the value of each record in
 * `__cluster_metadata` is uvarint frame version (1), uvarint record type, uvarint record version, then the
 * record in its (flexible) encoding. Keys are null.
 */
import { METADATA_RECORD_SPECS, type MetadataRecordByType, type MetadataRecordType } from '../protocol/generated/index.ts';
import { Reader } from '../protocol/wire/reader.ts';
import { Writer } from '../protocol/wire/writer.ts';
import { DecodeError } from '../protocol/wire/decode-error.ts';

export const METADATA_FRAME_VERSION = 1;

/** One metadata record with its type and version (Kafka's ApiMessageAndVersion). */
export type MetadataRecord = {
  [K in MetadataRecordType]: { readonly type: K; readonly version: number; readonly record: MetadataRecordByType[K] }
}[MetadataRecordType];

/** Builds a record at the newest version this codec knows. */
export function metadataRecord<K extends MetadataRecordType>(type: K, record: MetadataRecordByType[K]): MetadataRecord {
  return { type, version: METADATA_RECORD_SPECS[type].maxVersion, record } as MetadataRecord;
}

export function encodeMetadataRecord(m: MetadataRecord): Buffer {
  const w = new Writer(128, Number.MAX_SAFE_INTEGER);
  w.uvarint(METADATA_FRAME_VERSION);
  w.uvarint(m.type);
  w.uvarint(m.version);
  const spec = METADATA_RECORD_SPECS[m.type] as { write: (w: Writer, v: unknown, version: number) => void };
  spec.write(w, m.record, m.version);
  return w.toBuffer();
}

export function decodeMetadataRecord(value: Buffer): MetadataRecord {
  const r = new Reader(value);
  const frameVersion = r.uvarint();
  if (frameVersion !== METADATA_FRAME_VERSION) throw new DecodeError(`metadata record frame version ${frameVersion} is not ${METADATA_FRAME_VERSION}`);
  const type = r.uvarint();
  const version = r.uvarint();
  const spec = (METADATA_RECORD_SPECS as Record<number, { read: (r: Reader, version: number) => unknown } | undefined>)[type];
  if (spec === undefined) throw new DecodeError(`unknown metadata record type ${type}`);
  const record = spec.read(r, version);
  if (r.remaining !== 0) throw new DecodeError(`metadata record type ${type} v${version} has ${r.remaining} trailing bytes`);
  return { type, version, record } as MetadataRecord;
}
