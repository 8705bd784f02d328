/**
 * Thrown by a handler to close the client's connection without answering, for the cases where Kafka does
 * exactly that (a failed acks=0 produce: the client gets no response, so closing is the only signal).
 */
export class CloseConnection extends Error {
  override readonly name = 'CloseConnection';
}
