/**
 * Raised by every decoder on malformed input: truncated data, lengths beyond the remaining bytes,
 * nulls in non-nullable fields, over-long varints, versions outside a message's valid range.
 * The network layer turns it into a closed connection or INVALID_REQUEST; it never escapes as a crash.
 */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  readonly code = 'MILLRACE_DECODE';
}

/** Raised when a value cannot be written at the requested version (Kafka's UnsupportedVersionException). */
export class EncodeError extends Error {
  override readonly name = 'EncodeError';
  readonly code = 'MILLRACE_ENCODE';
}
