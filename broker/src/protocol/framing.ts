/**
 * Request/response framing: the size prefix, header versions, and the rules Kafka applies around them.
 *
 * - A frame is int32 size + header + body.
 * - Request header v1 = apiKey, apiVersion, correlationId, clientId (ALWAYS an int16-length string);
 *   v2 adds tagged fields and is used when the request version is flexible. ControlledShutdown v0 alone
 *   used header v0 (no clientId).
 * - Response header v0 = correlationId; v1 adds tagged fields for flexible versions, EXCEPT ApiVersions,
 *   whose response always uses header v0 so that a client can parse it before knowing our versions (KIP-511).
 */
import {
  apiSpec, readRequestHeader, readResponseHeader, writeRequestHeader, writeResponseHeader, type RequestHeader,
} from './generated/index.ts';
import { Reader } from './wire/reader.ts';
import { Writer } from './wire/writer.ts';
import { DecodeError } from './wire/decode-error.ts';

export const API_VERSIONS_KEY = 18;
const CONTROLLED_SHUTDOWN_KEY = 7;

export function isFlexibleVersion(apiKey: number, apiVersion: number): boolean {
  const spec = apiSpec(apiKey);
  return spec !== undefined && spec.flexibleMinVersion >= 0 && apiVersion >= spec.flexibleMinVersion;
}

export function requestHeaderVersion(apiKey: number, apiVersion: number): number {
  if (apiKey === CONTROLLED_SHUTDOWN_KEY && apiVersion === 0) return 0;
  return isFlexibleVersion(apiKey, apiVersion) ? 2 : 1;
}

export function responseHeaderVersion(apiKey: number, apiVersion: number): number {
  if (apiKey === API_VERSIONS_KEY) return 0;
  return isFlexibleVersion(apiKey, apiVersion) ? 1 : 0;
}

/** What the server knows about a request before (or without) decoding its body. */
export interface RequestFrame {
  readonly header: RequestHeader;
  /** Positioned at the start of the body. */
  readonly body: Reader;
}

/** Why a frame could not be turned into a request; `correlationId` is known when the header was readable. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
  readonly code: 'UNKNOWN_API_KEY' | 'UNSUPPORTED_VERSION' | 'MALFORMED_HEADER';
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;

  constructor(code: FrameError['code'], message: string, apiKey: number, apiVersion: number, correlationId: number) {
    super(message);
    this.code = code;
    this.apiKey = apiKey;
    this.apiVersion = apiVersion;
    this.correlationId = correlationId;
  }
}

/**
 * Parses the request header of one frame (size prefix already removed).
 * The version is checked against the full range the codec implements; which versions a listener
 * ADVERTISES is the server's business.
 */
export function parseRequestFrame(frame: Buffer): RequestFrame {
  if (frame.length < 8) throw new FrameError('MALFORMED_HEADER', `request frame of ${frame.length} bytes is shorter than a request header`, -1, -1, -1);
  const apiKey = frame.readInt16BE(0);
  const apiVersion = frame.readInt16BE(2);
  const correlationId = frame.readInt32BE(4);
  const spec = apiSpec(apiKey);
  if (spec === undefined) throw new FrameError('UNKNOWN_API_KEY', `unknown API key ${apiKey}`, apiKey, apiVersion, correlationId);
  // ApiVersions above our range is answered (KIP-511), so its header must still parse: it is v1/v2 shaped.
  const headerVersion = apiKey === API_VERSIONS_KEY && apiVersion > spec.maxVersion ? 2 : requestHeaderVersion(apiKey, apiVersion);
  if (apiKey !== API_VERSIONS_KEY && (apiVersion < spec.minVersion || apiVersion > spec.maxVersion)) {
    throw new FrameError('UNSUPPORTED_VERSION', `${spec.name} version ${apiVersion} is outside ${spec.minVersion}-${spec.maxVersion}`, apiKey, apiVersion, correlationId);
  }
  const r = new Reader(frame);
  try {
    const header = readRequestHeader(r, headerVersion);
    return { header, body: r };
  } catch (cause) {
    if (!(cause instanceof DecodeError)) throw cause;
    throw new FrameError('MALFORMED_HEADER', `malformed ${spec.name} request header: ${cause.message}`, apiKey, apiVersion, correlationId);
  }
}

/**
 * Starts a response frame: reserves the size prefix and writes the response header.
 * Write the body into the returned writer, then call `finishFrame`.
 */
export function beginResponseFrame(apiKey: number, apiVersion: number, correlationId: number, initialSizeBytes = 256): Writer {
  const w = new Writer(initialSizeBytes);
  w.int32(0);
  writeResponseHeader(w, { correlationId }, responseHeaderVersion(apiKey, apiVersion));
  return w;
}

/** Patches the size prefix and returns the frame as chunks ready for a vectored write. */
export function finishFrame(w: Writer): Buffer[] {
  const chunks = w.chunks();
  const first = chunks[0];
  if (first === undefined || first.length < 4) throw new Error('finishFrame: the writer does not start with a size prefix');
  first.writeInt32BE(w.length - 4, 0);
  return chunks;
}

/** Encodes a whole request frame (used by our own clients: the operator's admin client, tests, raft). */
export function encodeRequestFrame(header: RequestHeader, write: (w: Writer) => void): Buffer[] {
  const w = new Writer(256);
  w.int32(0);
  writeRequestHeader(w, header, requestHeaderVersion(header.requestApiKey, header.requestApiVersion));
  write(w);
  return finishFrame(w);
}

/** Reads a response header for a request of (apiKey, apiVersion); returns the correlation id. */
export function parseResponseHeader(r: Reader, apiKey: number, apiVersion: number): number {
  return readResponseHeader(r, responseHeaderVersion(apiKey, apiVersion)).correlationId;
}
