/**
 * Apache Kafka's protocol error table (org.apache.kafka.common.protocol.Errors): every code a broker may put on
 * the wire, from -1 UNKNOWN_SERVER_ERROR to the highest assigned code.
 *
 * Codes are part of the protocol and never reused; names may change between Kafka versions (for example code 6
 * was NOT_LEADER_FOR_PARTITION before 2.6), so the names here are the Kafka 4.x ones.
 *
 * `retriable` is true exactly when Kafka's exception for the code extends RetriableException (directly, or via
 * RefreshRetriableException / InvalidMetadataException), as of Kafka 4.2. Clients decide whether to retry from
 * this, so it must match Kafka rather than our own judgement (e.g. ELECTION_NOT_NEEDED is retriable in Kafka).
 *
 * Messages paraphrase Kafka's default exception text; they are what a response carries when we have nothing
 * more specific to say.
 *
 * Codes 134..141 (READ_ONLY_TOPIC and the KIP-1279 cluster-mirroring errors) exist on Kafka trunk after 4.2 and
 * are not in a 4.2 release; they are listed so that errorName() can name them if a newer peer sends one.
 */

type ErrorRow = readonly [name: string, code: number, retriable: boolean, message: string];

const ERROR_ROWS = [
  ['UNKNOWN_SERVER_ERROR', -1, false, 'The server hit an unexpected error while processing the request.'],
  ['NONE', 0, false, ''],
  ['OFFSET_OUT_OF_RANGE', 1, false, 'The requested offset lies outside the range of offsets the server holds.'],
  ['CORRUPT_MESSAGE', 2, true, 'The message failed its CRC check, has an invalid size, has a null key on a compacted topic, or is otherwise corrupt.'],
  ['UNKNOWN_TOPIC_OR_PARTITION', 3, true, 'This server does not host the requested topic-partition.'],
  ['INVALID_FETCH_SIZE', 4, false, 'The requested fetch size is not valid.'],
  ['LEADER_NOT_AVAILABLE', 5, true, 'The topic-partition has no leader right now because a leader election is in progress.'],
  ['NOT_LEADER_OR_FOLLOWER', 6, true, 'This broker is not the leader (for leader-only requests) or not a replica (for replica requests) of the topic-partition.'],
  ['REQUEST_TIMED_OUT', 7, true, 'The request timed out.'],
  ['BROKER_NOT_AVAILABLE', 8, false, 'The broker is not available.'],
  ['REPLICA_NOT_AVAILABLE', 9, true, 'The replica is not available for the requested topic-partition.'],
  ['MESSAGE_TOO_LARGE', 10, false, 'The request contains a message larger than the largest message the server accepts.'],
  ['STALE_CONTROLLER_EPOCH', 11, false, 'The controller has moved to another broker.'],
  ['OFFSET_METADATA_TOO_LARGE', 12, false, 'The metadata attached to the offset commit is too large.'],
  ['NETWORK_EXCEPTION', 13, true, 'The server closed the connection before a response arrived.'],
  ['COORDINATOR_LOAD_IN_PROGRESS', 14, true, 'The coordinator is still loading its state and cannot serve requests yet.'],
  ['COORDINATOR_NOT_AVAILABLE', 15, true, 'The coordinator is not available.'],
  ['NOT_COORDINATOR', 16, true, 'This broker is not the coordinator for the request.'],
  ['INVALID_TOPIC_EXCEPTION', 17, false, 'The request tried to operate on an invalid topic.'],
  ['RECORD_LIST_TOO_LARGE', 18, false, 'The request contains a record batch larger than the configured segment size.'],
  ['NOT_ENOUGH_REPLICAS', 19, true, 'The records were rejected because fewer replicas are in sync than required.'],
  ['NOT_ENOUGH_REPLICAS_AFTER_APPEND', 20, true, 'The records were written, but to fewer in-sync replicas than required.'],
  ['INVALID_REQUIRED_ACKS', 21, false, 'The produce request has an invalid value for required acks.'],
  ['ILLEGAL_GENERATION', 22, false, 'The group generation id is not valid.'],
  ['INCONSISTENT_GROUP_PROTOCOL', 23, false, "The member's protocols do not match the group's, or the first member joined with an empty protocol type or list."],
  ['INVALID_GROUP_ID', 24, false, 'The group id is not valid.'],
  ['UNKNOWN_MEMBER_ID', 25, false, 'The coordinator does not know this member.'],
  ['INVALID_SESSION_TIMEOUT', 26, false, 'The session timeout is outside the range the broker allows (group.min/max.session.timeout.ms).'],
  ['REBALANCE_IN_PROGRESS', 27, false, 'The group is rebalancing; the member must rejoin.'],
  ['INVALID_COMMIT_OFFSET_SIZE', 28, false, 'The size of the committed offset data is not valid.'],
  ['TOPIC_AUTHORIZATION_FAILED', 29, false, 'Not authorized to access the topic.'],
  ['GROUP_AUTHORIZATION_FAILED', 30, false, 'Not authorized to access the group.'],
  ['CLUSTER_AUTHORIZATION_FAILED', 31, false, 'Not authorized for the cluster operation.'],
  ['INVALID_TIMESTAMP', 32, false, 'A message timestamp is outside the accepted range.'],
  ['UNSUPPORTED_SASL_MECHANISM', 33, false, 'The broker does not support the requested SASL mechanism.'],
  ['ILLEGAL_SASL_STATE', 34, false, 'The request is not valid in the current SASL state.'],
  ['UNSUPPORTED_VERSION', 35, false, 'The API version is not supported.'],
  ['TOPIC_ALREADY_EXISTS', 36, false, 'A topic with this name already exists.'],
  ['INVALID_PARTITIONS', 37, false, 'The number of partitions is below 1.'],
  ['INVALID_REPLICATION_FACTOR', 38, false, 'The replication factor is below 1 or above the number of available brokers.'],
  ['INVALID_REPLICA_ASSIGNMENT', 39, false, 'The replica assignment is not valid.'],
  ['INVALID_CONFIG', 40, false, 'The configuration is not valid.'],
  ['NOT_CONTROLLER', 41, true, 'This is not the active controller of the cluster.'],
  ['INVALID_REQUEST', 42, false, 'The request was probably malformed by the client or sent to an incompatible broker; the broker log has details.'],
  ['UNSUPPORTED_FOR_MESSAGE_FORMAT', 43, false, "The broker's message format version does not support the request."],
  ['POLICY_VIOLATION', 44, false, 'The request parameters violate the configured policy.'],
  ['OUT_OF_ORDER_SEQUENCE_NUMBER', 45, false, 'The broker received an out-of-order sequence number.'],
  ['DUPLICATE_SEQUENCE_NUMBER', 46, false, 'The broker received a duplicate sequence number.'],
  ['INVALID_PRODUCER_EPOCH', 47, false, 'The producer used an epoch older than the current one.'],
  ['INVALID_TXN_STATE', 48, false, 'The producer attempted a transactional operation in an invalid state.'],
  ['INVALID_PRODUCER_ID_MAPPING', 49, false, 'The producer id is not currently assigned to the transactional id used.'],
  ['INVALID_TRANSACTION_TIMEOUT', 50, false, 'The transaction timeout exceeds the broker maximum (transaction.max.timeout.ms).'],
  ['CONCURRENT_TRANSACTIONS', 51, true, 'Another operation on the same transaction is still in progress.'],
  ['TRANSACTION_COORDINATOR_FENCED', 52, false, 'The transaction coordinator sending the marker is no longer the coordinator for this producer.'],
  ['TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 53, false, 'Not authorized to use the transactional id.'],
  ['SECURITY_DISABLED', 54, false, 'Security features are disabled.'],
  ['OPERATION_NOT_ATTEMPTED', 55, false, 'The broker did not attempt this operation, typically because another operation in the same batched request failed.'],
  ['KAFKA_STORAGE_ERROR', 56, true, 'A disk error occurred while accessing the log.'],
  ['LOG_DIR_NOT_FOUND', 57, false, 'The requested log directory is not in the broker configuration.'],
  ['SASL_AUTHENTICATION_FAILED', 58, false, 'SASL authentication failed.'],
  ['UNKNOWN_PRODUCER_ID', 59, false, "The broker has no state for this producer id, e.g. because the producer's records were removed by retention."],
  ['REASSIGNMENT_IN_PROGRESS', 60, false, 'A partition reassignment is in progress.'],
  ['DELEGATION_TOKEN_AUTH_DISABLED', 61, false, 'Delegation tokens are not enabled.'],
  ['DELEGATION_TOKEN_NOT_FOUND', 62, false, 'The delegation token was not found on the server.'],
  ['DELEGATION_TOKEN_OWNER_MISMATCH', 63, false, 'The principal is not a valid owner or renewer of the token.'],
  ['DELEGATION_TOKEN_REQUEST_NOT_ALLOWED', 64, false, 'Delegation token requests are not allowed on PLAINTEXT, one-way SSL, or token-authenticated connections.'],
  ['DELEGATION_TOKEN_AUTHORIZATION_FAILED', 65, false, 'Not authorized for the delegation token operation.'],
  ['DELEGATION_TOKEN_EXPIRED', 66, false, 'The delegation token has expired.'],
  ['INVALID_PRINCIPAL_TYPE', 67, false, 'The principal type is not supported.'],
  ['NON_EMPTY_GROUP', 68, false, 'The group is not empty.'],
  ['GROUP_ID_NOT_FOUND', 69, false, 'The group id does not exist.'],
  ['FETCH_SESSION_ID_NOT_FOUND', 70, true, 'The fetch session id was not found.'],
  ['INVALID_FETCH_SESSION_EPOCH', 71, true, 'The fetch session epoch is not valid.'],
  ['LISTENER_NOT_FOUND', 72, true, "The leader has no listener matching the listener the metadata request arrived on."],
  ['TOPIC_DELETION_DISABLED', 73, false, 'Topic deletion is disabled.'],
  ['FENCED_LEADER_EPOCH', 74, true, "The request's leader epoch is older than the broker's."],
  ['UNKNOWN_LEADER_EPOCH', 75, true, "The request's leader epoch is newer than the broker's."],
  ['UNSUPPORTED_COMPRESSION_TYPE', 76, false, "The client does not support the partition's compression type."],
  ['STALE_BROKER_EPOCH', 77, false, 'The broker epoch has changed.'],
  ['OFFSET_NOT_AVAILABLE', 78, true, 'The new leader has not caught up its high watermark yet, so offsets cannot be guaranteed monotonic.'],
  ['MEMBER_ID_REQUIRED', 79, false, 'The member must obtain a member id before it can join the group.'],
  ['PREFERRED_LEADER_NOT_AVAILABLE', 80, true, 'The preferred leader is not available.'],
  ['GROUP_MAX_SIZE_REACHED', 81, false, 'The group has reached its maximum size.'],
  ['FENCED_INSTANCE_ID', 82, false, 'Another member with the same group.instance.id registered with a different member id.'],
  ['ELIGIBLE_LEADERS_NOT_AVAILABLE', 83, true, 'No eligible leader is available for the partition.'],
  ['ELECTION_NOT_NEEDED', 84, true, 'No leader election is needed for the partition.'],
  ['NO_REASSIGNMENT_IN_PROGRESS', 85, false, 'No partition reassignment is in progress.'],
  ['GROUP_SUBSCRIBED_TO_TOPIC', 86, false, 'Offsets of a topic cannot be deleted while the group is subscribed to it.'],
  ['INVALID_RECORD', 87, false, 'The record failed broker-side validation and was rejected.'],
  ['UNSTABLE_OFFSET_COMMIT', 88, true, 'There are pending offsets that must be cleared first.'],
  ['THROTTLING_QUOTA_EXCEEDED', 89, true, 'The throttling quota has been exceeded.'],
  ['PRODUCER_FENCED', 90, false, 'A newer producer with the same transactional id has fenced this one.'],
  ['RESOURCE_NOT_FOUND', 91, false, 'The request refers to a resource that does not exist.'],
  ['DUPLICATE_RESOURCE', 92, false, 'The request refers to the same resource more than once.'],
  ['UNACCEPTABLE_CREDENTIAL', 93, false, 'The requested credential does not meet the acceptance criteria.'],
  ['INCONSISTENT_VOTER_SET', 94, false, 'The sender or the receiver of a voter-only request is not one of the expected voters.'],
  ['INVALID_UPDATE_VERSION', 95, false, 'The update version is not valid.'],
  ['FEATURE_UPDATE_FAILED', 96, false, 'Finalized features could not be updated because of an unexpected server error.'],
  ['PRINCIPAL_DESERIALIZATION_FAILURE', 97, false, 'The forwarded request principal could not be deserialized; the cluster security setup is inconsistent.'],
  ['SNAPSHOT_NOT_FOUND', 98, false, 'The requested snapshot was not found.'],
  ['POSITION_OUT_OF_RANGE', 99, false, 'The requested position is negative or beyond the end of the snapshot.'],
  ['UNKNOWN_TOPIC_ID', 100, true, 'This server does not host a topic with this id.'],
  ['DUPLICATE_BROKER_REGISTRATION', 101, false, 'This broker id is already registered.'],
  ['BROKER_ID_NOT_REGISTERED', 102, false, 'This broker id is not registered.'],
  ['INCONSISTENT_TOPIC_ID', 103, true, "The topic id in the request does not match the log's topic id."],
  ['INCONSISTENT_CLUSTER_ID', 104, false, "The cluster id in the request does not match the server's."],
  ['TRANSACTIONAL_ID_NOT_FOUND', 105, false, 'The transactional id was not found.'],
  ['FETCH_SESSION_TOPIC_ID_ERROR', 106, true, 'The fetch session used topic ids inconsistently.'],
  ['INELIGIBLE_REPLICA', 107, false, 'The proposed ISR contains at least one ineligible replica.'],
  ['NEW_LEADER_ELECTED', 108, false, 'The AlterPartition request was applied, but the partition leader has changed.'],
  ['OFFSET_MOVED_TO_TIERED_STORAGE', 109, false, 'The requested offset has moved to tiered storage.'],
  ['FENCED_MEMBER_EPOCH', 110, false, 'The coordinator fenced this member epoch; the member must give up its partitions and rejoin.'],
  ['UNRELEASED_INSTANCE_ID', 111, false, 'Another member of the group still uses this instance id and must leave first.'],
  ['UNSUPPORTED_ASSIGNOR', 112, false, 'The group does not support the assignor or its version range.'],
  ['STALE_MEMBER_EPOCH', 113, false, 'The member epoch is stale; retry after learning the current epoch from a group heartbeat.'],
  ['MISMATCHED_ENDPOINT_TYPE', 114, false, 'The request was sent to the wrong type of endpoint.'],
  ['UNSUPPORTED_ENDPOINT_TYPE', 115, false, 'This endpoint type is not supported yet.'],
  ['UNKNOWN_CONTROLLER_ID', 116, false, 'This controller id is not known.'],
  ['UNKNOWN_SUBSCRIPTION_ID', 117, false, 'The telemetry push used an unknown or outdated subscription id.'],
  ['TELEMETRY_TOO_LARGE', 118, false, 'The telemetry push is larger than the broker accepts.'],
  ['INVALID_REGISTRATION', 119, false, 'The controller considers the broker registration invalid.'],
  ['TRANSACTION_ABORTABLE', 120, false, 'The transaction hit an error; abort it to keep using this transactional id.'],
  ['INVALID_RECORD_STATE', 121, false, 'The record state is not valid, so the delivery acknowledgement could not complete.'],
  ['SHARE_SESSION_NOT_FOUND', 122, true, 'The share session was not found.'],
  ['INVALID_SHARE_SESSION_EPOCH', 123, true, 'The share session epoch is not valid.'],
  ['FENCED_STATE_EPOCH', 124, false, 'The share coordinator rejected the request because the share-group state epoch does not match.'],
  ['INVALID_VOTER_KEY', 125, false, "The voter key does not match the receiving replica's key."],
  ['DUPLICATE_VOTER', 126, false, 'The voter is already in the voter set.'],
  ['VOTER_NOT_FOUND', 127, false, 'The voter is not in the voter set.'],
  ['INVALID_REGULAR_EXPRESSION', 128, false, 'The regular expression is not valid.'],
  ['REBOOTSTRAP_REQUIRED', 129, false, 'The client metadata is stale; the client should rebootstrap.'],
  ['STREAMS_INVALID_TOPOLOGY', 130, false, 'The supplied topology is not valid.'],
  ['STREAMS_INVALID_TOPOLOGY_EPOCH', 131, false, 'The supplied topology epoch is not valid.'],
  ['STREAMS_TOPOLOGY_FENCED', 132, false, 'The supplied topology epoch is outdated.'],
  ['SHARE_SESSION_LIMIT_REACHED', 133, true, 'The maximum number of share sessions has been reached.'],
  ['READ_ONLY_TOPIC', 134, false, 'The topic is read-only.'],
  ['INVALID_MIRROR_NAME', 135, false, 'The mirror name does not follow the naming rules.'],
  ['UNKNOWN_MIRROR', 136, false, 'The mirror does not exist.'],
  ['TOPIC_ALREADY_IN_MIRROR', 137, false, 'The topic already belongs to a mirror.'],
  ['TOPIC_NOT_IN_MIRROR', 138, false, 'The topic does not belong to the given mirror.'],
  ['MIRROR_TOPIC_ALREADY_PAUSED', 139, false, 'The mirror topic is already paused.'],
  ['MIRROR_TOPIC_NOT_PAUSED', 140, false, 'The mirror topic is not paused.'],
  ['MIRROR_TOPIC_BEING_REMOVED', 141, false, 'The mirror topic is being removed.'],
] as const satisfies readonly ErrorRow[];

type Rows = typeof ERROR_ROWS;
export type ErrorName = Rows[number][0];
export type ErrorCodeMap = { readonly [R in Rows[number] as R[0]]: R[1] };
export type ErrorCodeValue = Rows[number][1];

export interface ErrorInfo {
  readonly name: ErrorName;
  readonly code: ErrorCodeValue;
  readonly retriable: boolean;
  /** Kafka's default text for the error, paraphrased; empty for NONE. */
  readonly message: string;
}

/** Every Kafka error, ordered by code. */
export const ERROR_TABLE: readonly ErrorInfo[] = Object.freeze(
  ERROR_ROWS.map(([name, code, retriable, message]) => Object.freeze({ name, code, retriable, message })),
);

/** Kafka error name -> code, e.g. `ErrorCode.CORRUPT_MESSAGE === 2`. */
export const ErrorCode: ErrorCodeMap = Object.freeze(
  Object.fromEntries(ERROR_ROWS.map(([name, code]) => [name, code])),
) as ErrorCodeMap;

const BY_CODE: ReadonlyMap<number, ErrorInfo> = new Map(ERROR_TABLE.map((info) => [info.code, info]));

/** The table row for `code`, or undefined for a code Kafka has not assigned. */
export const errorInfo = (code: number): ErrorInfo | undefined => BY_CODE.get(code);

/** Kafka's name for `code`; unassigned codes read `UNKNOWN_ERROR_CODE(<code>)` so logs still show the number. */
export const errorName = (code: number): string => BY_CODE.get(code)?.name ?? `UNKNOWN_ERROR_CODE(${code})`;

/** Whether Kafka clients treat `code` as retriable; unassigned codes are not (clients map them to UNKNOWN_SERVER_ERROR). */
export const isRetriable = (code: number): boolean => BY_CODE.get(code)?.retriable ?? false;

/**
 * An error that must reach the client as a Kafka error code. `detail` names the cause precisely (which batch,
 * which field, which value); `message` is `<ERROR_NAME>: <detail>` for logs.
 */
export class KafkaProtocolError extends Error {
  readonly errorCode: number;
  readonly detail: string;

  constructor(errorCode: number, detail: string, options?: ErrorOptions) {
    super(`${errorName(errorCode)}: ${detail}`, options);
    this.name = 'KafkaProtocolError';
    this.errorCode = errorCode;
    this.detail = detail;
  }

  get retriable(): boolean {
    return isRetriable(this.errorCode);
  }
}
