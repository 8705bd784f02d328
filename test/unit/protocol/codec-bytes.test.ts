/**
 * Byte-exact expectations written by hand from the protocol rules (an oracle independent of the generator):
 * header versions, compact vs classic encodings, nullable fields, tagged fields and the ApiVersions rule.
 */
import { describe, expect, it } from 'vitest';
import { Reader } from '../../../broker/src/protocol/wire/reader.ts';
import { Writer } from '../../../broker/src/protocol/wire/writer.ts';
import { EncodeError } from '../../../broker/src/protocol/wire/decode-error.ts';
import {
  defaultApiVersionsRequest, defaultMetadataRequest, defaultMetadataRequestMetadataRequestTopic, defaultProduceResponse,
  defaultProduceResponsePartitionProduceResponse, defaultProduceResponseTopicProduceResponse,
  readApiVersionsRequest, readProduceResponse, writeApiVersionsRequest, writeMetadataRequest, writeProduceResponse,
  defaultFetchResponse, writeFetchResponse, defaultFetchResponseFetchableTopicResponse, defaultFetchResponsePartitionData,
} from '../../../broker/src/protocol/generated/index.ts';
import {
  beginResponseFrame, encodeRequestFrame, finishFrame, parseRequestFrame, requestHeaderVersion, responseHeaderVersion, FrameError,
} from '../../../broker/src/protocol/framing.ts';

const hex = (chunks: Buffer | Buffer[]): string => (Array.isArray(chunks) ? Buffer.concat(chunks) : chunks).toString('hex');
const bytesOf = (write: (w: Writer) => void): Buffer => { const w = new Writer(); write(w); return w.toBuffer(); };

describe('encodings', () => {
  it('Metadata v0 uses int32 array counts and int16 strings', () => {
    const req = { ...defaultMetadataRequest(), topics: [{ ...defaultMetadataRequestMetadataRequestTopic(), name: 'a' }] };
    expect(hex(bytesOf((w) => writeMetadataRequest(w, req, 0)))).toBe('00000001' + '0001' + '61');
  });

  it('Metadata v1 encodes null topics (all topics) as count -1; v0 cannot', () => {
    const req = { ...defaultMetadataRequest(), topics: null };
    expect(hex(bytesOf((w) => writeMetadataRequest(w, req, 1)))).toBe('ffffffff');
    expect(() => bytesOf((w) => writeMetadataRequest(w, req, 0))).toThrow(EncodeError);
  });

  it('ApiVersions v3 uses compact strings and an empty tagged-field section', () => {
    const req = { ...defaultApiVersionsRequest(), clientSoftwareName: 'x', clientSoftwareVersion: '1' };
    expect(hex(bytesOf((w) => writeApiVersionsRequest(w, req, 3)))).toBe('0278' + '0231' + '00');
  });

  it('refuses to drop a non-default non-ignorable field in a version without it', () => {
    // Metadata v0-v3 have no AllowAutoTopicCreation (default true, not ignorable), as Kafka's generator refuses.
    const req = { ...defaultMetadataRequest(), topics: [], allowAutoTopicCreation: false };
    expect(() => bytesOf((w) => writeMetadataRequest(w, req, 3))).toThrow(/non-default AllowAutoTopicCreation/);
    // An ignorable field is silently dropped instead (ApiVersions v2 has no ClientSoftwareName).
    const api = { ...defaultApiVersionsRequest(), clientSoftwareName: 'x' };
    expect(bytesOf((w) => writeApiVersionsRequest(w, api, 2)).length).toBe(0);
  });

  it('writes a tagged struct only when it differs from its default (ProduceResponse v10 CurrentLeader)', () => {
    const partition = { ...defaultProduceResponsePartitionProduceResponse(), index: 0 };
    const res = { ...defaultProduceResponse(), responses: [{ ...defaultProduceResponseTopicProduceResponse(), name: 't', partitionResponses: [partition] }] };
    const plain = bytesOf((w) => writeProduceResponse(w, res, 10));
    partition.currentLeader = { leaderId: 1, leaderEpoch: 2 };
    const tagged = bytesOf((w) => writeProduceResponse(w, res, 10));
    // tag 0, size 9: leaderId int32, leaderEpoch int32, empty tag section.
    expect(tagged.length - plain.length).toBe(11);
    expect(tagged.includes(Buffer.from('0009' + '00000001' + '00000002' + '00', 'hex'))).toBe(true);
    expect(readProduceResponse(new Reader(tagged), 10).responses[0]?.partitionResponses[0]?.currentLeader).toEqual({ leaderId: 1, leaderEpoch: 2 });
  });

  it('keeps unknown tagged fields through decode and encode, in tag order', () => {
    const bytes = Buffer.from('0278' + '0231' + '02' + '05' + '01' + 'aa' + '07' + '02' + 'bbcc', 'hex');
    const req = readApiVersionsRequest(new Reader(bytes), 3);
    expect(req._unknownTaggedFields?.map((f) => [f.tag, f.data.toString('hex')])).toEqual([[5, 'aa'], [7, 'bbcc']]);
    expect(bytesOf((w) => writeApiVersionsRequest(w, req, 3)).equals(bytes)).toBe(true);
  });

  it('writes large record batches zero-copy as their own chunk', () => {
    const records = Buffer.alloc(10_000, 7);
    const partition = { ...defaultFetchResponsePartitionData(), records };
    const res = { ...defaultFetchResponse(), responses: [{ ...defaultFetchResponseFetchableTopicResponse(), topic: 't', partitions: [partition] }] };
    const w = new Writer();
    writeFetchResponse(w, res, 11);
    expect(w.chunks().some((c) => c === records)).toBe(true);
  });
});

describe('framing', () => {
  it('uses request header v2 for flexible versions, v1 otherwise, and v0 for ControlledShutdown v0', () => {
    expect(requestHeaderVersion(3, 8)).toBe(1);
    expect(requestHeaderVersion(3, 9)).toBe(2);
    expect(requestHeaderVersion(7, 0)).toBe(0);
  });

  it('answers ApiVersions with response header v0 at every version', () => {
    for (let v = 0; v <= 4; v++) expect(responseHeaderVersion(18, v)).toBe(0);
    expect(responseHeaderVersion(3, 9)).toBe(1);
  });

  it('writes clientId with an int16 length even in header v2', () => {
    const frame = Buffer.concat(encodeRequestFrame({ requestApiKey: 18, requestApiVersion: 3, correlationId: 1, clientId: 'c' }, (w) =>
      writeApiVersionsRequest(w, { ...defaultApiVersionsRequest(), clientSoftwareName: 'x', clientSoftwareVersion: '1' }, 3)));
    expect(hex(frame)).toBe('00000011' + '0012' + '0003' + '00000001' + '0001' + '63' + '00' + '0278' + '0231' + '00');
    const parsed = parseRequestFrame(frame.subarray(4));
    expect(parsed.header).toEqual({ requestApiKey: 18, requestApiVersion: 3, correlationId: 1, clientId: 'c' });
    expect(readApiVersionsRequest(parsed.body, 3).clientSoftwareName).toBe('x');
  });

  it('parses the header of an ApiVersions request above our range so it can be answered (KIP-511)', () => {
    const frame = Buffer.from('0012' + '0063' + '00000009' + '0001' + '63' + '00' + 'ffff', 'hex');
    expect(parseRequestFrame(frame).header.correlationId).toBe(9);
  });

  it('reports unknown API keys and unsupported versions with the correlation id', () => {
    const unknown = Buffer.from('0fff' + '0000' + '0000002a' + 'ffff', 'hex');
    expect(() => parseRequestFrame(unknown)).toThrow(FrameError);
    try { parseRequestFrame(unknown); } catch (e) { expect((e as FrameError).correlationId).toBe(42); expect((e as FrameError).code).toBe('UNKNOWN_API_KEY'); }
    const tooNew = Buffer.from('0003' + '0063' + '0000002a' + 'ffff', 'hex');
    expect(() => parseRequestFrame(tooNew)).toThrow(/outside/);
  });

  it('prefixes responses with their size', () => {
    const w = beginResponseFrame(3, 9, 5);
    w.int8(0);
    expect(hex(finishFrame(w))).toBe('00000006' + '00000005' + '00' + '00');
  });
});
