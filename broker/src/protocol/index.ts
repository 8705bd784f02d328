/** The protocol layer's public surface: generated messages, framing, and the codec runtime. */
export * from './generated/index.ts';
export * from './framing.ts';
export { Reader, type TaggedField } from './wire/reader.ts';
export { Writer } from './wire/writer.ts';
export { DecodeError, EncodeError } from './wire/decode-error.ts';
export * from './wire/uuid.ts';
export type { HandlerTable, Handler, RequestContext } from '../server/request-context.ts';
