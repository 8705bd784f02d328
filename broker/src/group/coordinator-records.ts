/**
 * Records of the `__consumer_offsets` partition, byte-compatible with Kafka's: the key is an int16 record
 * type (= key version: 0/1 offset commit, 2 group metadata; higher types belong to KIP-848/share groups and
 * are skipped on load, as Kafka skips unknown types) followed by the key struct; the value is an int16 value
 * version followed by the value struct, or null for a tombstone.
 *
 * Versions written match Kafka 4.x: OffsetCommitKey 1 with OffsetCommitValue 3 (1 when the commit carries an
 * explicit expire timestamp), GroupMetadataKey 2 with GroupMetadataValue 3.
 */
import { Reader } from '../protocol/wire/reader.ts';
import { Writer } from '../protocol/wire/writer.ts';
import { readGroupMetadataKey, writeGroupMetadataKey } from '../protocol/generated/group-coordinator/group-metadata-key.ts';
import { readGroupMetadataValue, writeGroupMetadataValue, type GroupMetadataValue } from '../protocol/generated/group-coordinator/group-metadata-value.ts';
import { readOffsetCommitKey, writeOffsetCommitKey } from '../protocol/generated/group-coordinator/offset-commit-key.ts';
import { readOffsetCommitValue, writeOffsetCommitValue } from '../protocol/generated/group-coordinator/offset-commit-value.ts';
import type { ClassicGroup } from './classic-group.ts';
import { invariant } from './invariant.ts';

/** One record to append to (or read from) the group coordinator's partition. */
export interface CoordinatorRecord {
  readonly key: Buffer;
  /** null is a tombstone. */
  readonly value: Buffer | null;
}

export const OFFSET_COMMIT_RECORD_TYPE = 1;
export const GROUP_METADATA_RECORD_TYPE = 2;
const OFFSET_COMMIT_VALUE_VERSION = 3;
const OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY = 1;
const GROUP_METADATA_VALUE_VERSION = 3;

/** A committed offset as the coordinator keeps it (Kafka's OffsetAndMetadata). */
export interface OffsetAndMetadata {
  readonly committedOffset: bigint;
  /** -1 when unknown. */
  readonly leaderEpoch: number;
  readonly metadata: string;
  readonly commitTimestampMs: number;
  /** Only for commits that asked for a retention (OffsetCommit v2-v4); null otherwise. */
  readonly expireTimestampMs: number | null;
}

export type DecodedCoordinatorRecord =
  | { readonly type: 'offset-commit'; readonly groupId: string; readonly topic: string; readonly partition: number; readonly value: OffsetAndMetadata | null }
  | { readonly type: 'group-metadata'; readonly groupId: string; readonly value: GroupMetadataValue | null }
  | { readonly type: 'unknown'; readonly recordType: number };

function encode(version: number, body: (w: Writer) => void): Buffer {
  const w = new Writer(64, Number.MAX_SAFE_INTEGER);
  w.int16(version);
  body(w);
  return w.toBuffer();
}

export function offsetCommitRecord(groupId: string, topic: string, partition: number, offset: OffsetAndMetadata): CoordinatorRecord {
  const valueVersion = offset.expireTimestampMs === null ? OFFSET_COMMIT_VALUE_VERSION : OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY;
  return {
    key: offsetCommitKey(groupId, topic, partition),
    value: encode(valueVersion, (w) =>
      writeOffsetCommitValue(
        w,
        {
          offset: offset.committedOffset,
          leaderEpoch: offset.leaderEpoch,
          metadata: offset.metadata,
          commitTimestamp: BigInt(offset.commitTimestampMs),
          expireTimestamp: offset.expireTimestampMs === null ? -1n : BigInt(offset.expireTimestampMs),
        },
        valueVersion,
      ),
    ),
  };
}

export function offsetCommitTombstone(groupId: string, topic: string, partition: number): CoordinatorRecord {
  return { key: offsetCommitKey(groupId, topic, partition), value: null };
}

function offsetCommitKey(groupId: string, topic: string, partition: number): Buffer {
  return encode(OFFSET_COMMIT_RECORD_TYPE, (w) => writeOffsetCommitKey(w, { group: groupId, topic, partition }, OFFSET_COMMIT_RECORD_TYPE));
}

/** The group with every member's `assignment` (Kafka's newGroupMetadataRecord). */
export function groupMetadataRecord(group: ClassicGroup, assignment: ReadonlyMap<string, Buffer>): CoordinatorRecord {
  const protocolName = group.protocolName;
  const members = [...group.allMembers()].map((member) => {
    invariant(protocolName !== null, () => `group ${group.groupId} has members but no protocol`);
    const memberAssignment = assignment.get(member.memberId);
    invariant(memberAssignment !== undefined, () => `member ${member.memberId} of group ${group.groupId} has no assignment`);
    return {
      memberId: member.memberId,
      groupInstanceId: member.groupInstanceId,
      clientId: member.clientId,
      clientHost: member.clientHost,
      rebalanceTimeout: member.rebalanceTimeoutMs,
      sessionTimeout: member.sessionTimeoutMs,
      subscription: member.metadata(protocolName),
      assignment: memberAssignment,
    };
  });
  const value: GroupMetadataValue = {
    protocolType: group.protocolType ?? '',
    generation: group.generationId,
    protocol: protocolName,
    leader: group.leaderId,
    currentStateTimestamp: BigInt(group.currentStateTimestampMs ?? -1),
    members,
  };
  return {
    key: groupMetadataKey(group.groupId),
    value: encode(GROUP_METADATA_VALUE_VERSION, (w) => writeGroupMetadataValue(w, value, GROUP_METADATA_VALUE_VERSION)),
  };
}

export function groupMetadataTombstone(groupId: string): CoordinatorRecord {
  return { key: groupMetadataKey(groupId), value: null };
}

function groupMetadataKey(groupId: string): Buffer {
  return encode(GROUP_METADATA_RECORD_TYPE, (w) => writeGroupMetadataKey(w, { group: groupId }, GROUP_METADATA_RECORD_TYPE));
}

/** Decodes one record; throws DecodeError (from the generated codecs) on malformed bytes. */
export function decodeCoordinatorRecord(record: CoordinatorRecord): DecodedCoordinatorRecord {
  const keyReader = new Reader(record.key);
  const recordType = keyReader.int16();
  if (recordType === 0 || recordType === 1) {
    const key = readOffsetCommitKey(keyReader, recordType);
    let value: OffsetAndMetadata | null = null;
    if (record.value !== null) {
      const valueReader = new Reader(record.value);
      const decoded = readOffsetCommitValue(valueReader, valueReader.int16());
      value = {
        committedOffset: decoded.offset,
        leaderEpoch: decoded.leaderEpoch,
        metadata: decoded.metadata,
        commitTimestampMs: Number(decoded.commitTimestamp),
        expireTimestampMs: decoded.expireTimestamp === -1n ? null : Number(decoded.expireTimestamp),
      };
    }
    return { type: 'offset-commit', groupId: key.group, topic: key.topic, partition: key.partition, value };
  }
  if (recordType === GROUP_METADATA_RECORD_TYPE) {
    const key = readGroupMetadataKey(keyReader, recordType);
    let value: GroupMetadataValue | null = null;
    if (record.value !== null) {
      const valueReader = new Reader(record.value);
      value = readGroupMetadataValue(valueReader, valueReader.int16());
    }
    return { type: 'group-metadata', groupId: key.group, value };
  }
  return { type: 'unknown', recordType };
}
