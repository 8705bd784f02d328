/**
 * The one error type every codec throws: a KafkaProtocolError (CORRUPT_MESSAGE by default) with a machine-readable
 * `problem`, so callers such as the batch validator can map it to the Kafka code that fits their context (a
 * payload that passed its batch CRC but does not decompress is the producer's fault, not the network's).
 */
import { ErrorCode, KafkaProtocolError } from '../error-codes.ts';

export type CompressionProblem =
  /** The input ends before the format says it should. */
  | 'truncated'
  /** The input violates the format (bad magic, bad checksum, impossible back-reference, ...). */
  | 'malformed'
  /** The decompressed output would exceed the caller's bound: a decompression bomb or an over-limit payload. */
  | 'too-large'
  /** The attributes name a codec id Kafka does not define. */
  | 'unsupported';

export class CompressionError extends KafkaProtocolError {
  readonly problem: CompressionProblem;
  readonly codec: string;

  constructor(codec: string, problem: CompressionProblem, detail: string, options?: ErrorOptions) {
    super(ErrorCode.CORRUPT_MESSAGE, `${codec}: ${detail}`, options);
    this.name = 'CompressionError';
    this.codec = codec;
    this.problem = problem;
  }
}
