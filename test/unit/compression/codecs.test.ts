import fc from 'fast-check';
import { compressSync as snappyRawCompress } from 'snappy';
import { describe, expect, it } from 'vitest';
import {
  compress,
  CompressionError,
  compressionName,
  decompress,
  LZ4_FRAME_MAGIC,
  XERIAL_BLOCK_BYTES,
  xxhash32,
} from '../../../broker/src/protocol/compression/index.ts';
import { ErrorCode } from '../../../broker/src/protocol/error-codes.ts';
import { Compression, type CompressionType } from '../../../broker/src/protocol/records/batch-header.ts';

const CODECS: readonly CompressionType[] = [Compression.none, Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd];
const COMPRESSED_CODECS: readonly CompressionType[] = [Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd];
const MiB = 1024 * 1024;

/** Semi-compressible bytes, like record payloads: words from a small vocabulary plus noise. */
function textLike(sizeBytes: number, seed: number): Buffer {
  const words = ['order', 'customer', '"status":', 'shipped', 'EUR', '{"sku":', 'region', 'eu-west-1'];
  let x = seed >>> 0 || 1;
  const next = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const parts: string[] = [];
  let length = 0;
  while (length < sizeBytes) {
    const part = next() % 3 === 0 ? next().toString(36) : words[next() % words.length]!;
    parts.push(part);
    length += part.length + 1;
  }
  return Buffer.from(parts.join(' ')).subarray(0, sizeBytes);
}

function expectCompressionError(fn: () => unknown, problems?: readonly string[]): CompressionError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(CompressionError);
  const error = thrown as CompressionError;
  expect(error.errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
  if (problems !== undefined) expect(problems).toContain(error.problem);
  return error;
}

/** Calls decompress and requires that it either succeeds within the bound or throws CompressionError. */
function decompressOrTypedError(type: number, input: Buffer, maxBytes: number): void {
  try {
    const out = decompress(type, input, maxBytes);
    expect(out.length).toBeLessThanOrEqual(maxBytes);
  } catch (error) {
    if (!(error instanceof CompressionError)) throw error;
  }
}

describe('compress/decompress round trip', () => {
  it.each(CODECS.map((c) => [compressionName(c), c] as const))('%s: random and text-like buffers', (_name, codec) => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 70_000 }), fc.nat(200_000).map((n) => textLike(n, n))), (raw) => {
        const input = Buffer.from(raw);
        const out = decompress(codec, compress(codec, input), input.length);
        expect(out.equals(input)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it.each(CODECS.map((c) => [compressionName(c), c] as const))('%s: empty input', (_name, codec) => {
    expect(decompress(codec, compress(codec, Buffer.alloc(0)), 0).length).toBe(0);
  });

  it.each(CODECS.map((c) => [compressionName(c), c] as const))('%s: output bound is inclusive', (_name, codec) => {
    const input = textLike(100_000, 7);
    const compressed = compress(codec, input);
    expect(decompress(codec, compressed, input.length).equals(input)).toBe(true);
    expect(expectCompressionError(() => decompress(codec, compressed, input.length - 1)).problem).toBe('too-large');
  });
});

describe('decompression bombs', () => {
  it.each(COMPRESSED_CODECS.map((c) => [compressionName(c), c] as const))('%s: 64 MiB of zeros refused at a 1 MiB bound', (_name, codec) => {
    const bomb = compress(codec, Buffer.alloc(64 * MiB));
    expect(bomb.length).toBeLessThan(4 * MiB);
    const before = process.memoryUsage().arrayBuffers;
    expect(expectCompressionError(() => decompress(codec, bomb, MiB)).problem).toBe('too-large');
    // The refusal must not have materialised the payload (64 MiB); allow generous slack for unrelated buffers.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 * MiB);
  });

  it('snappy and lz4 refuse declared sizes before decoding anything', () => {
    // A raw snappy block that claims 2^32-1 decoded bytes but carries nothing.
    expect(expectCompressionError(() => decompress(Compression.snappy, Buffer.from('ffffffff0f00', 'hex'), MiB)).problem).toBe('too-large');
    // An LZ4 frame declaring a 1 TiB content size.
    const header = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x68, 0x40, 0, 0, 0, 0, 0, 1, 0, 0]);
    const frame = Buffer.concat([header, Buffer.from([(xxhash32(header, 4, 14) >>> 8) & 0xff]), Buffer.alloc(4)]);
    expect(expectCompressionError(() => decompress(Compression.lz4, frame, MiB)).problem).toBe('too-large');
  });
});

describe('corrupted input yields CompressionError, never another error', () => {
  it.each(COMPRESSED_CODECS.map((c) => [compressionName(c), c] as const))('%s: every truncation', (_name, codec) => {
    const compressed = compress(codec, textLike(5000, 3));
    for (let end = 0; end < compressed.length; end++) {
      // gzip and zstd may stop cleanly at an internal boundary; what matters is no foreign error and no over-read.
      decompressOrTypedError(codec, compressed.subarray(0, end), 5000);
    }
    if (codec === Compression.snappy || codec === Compression.lz4) {
      expectCompressionError(() => decompress(codec, compressed.subarray(0, compressed.length - 1), 5000));
    }
  });

  it.each(COMPRESSED_CODECS.map((c) => [compressionName(c), c] as const))('%s: random byte mutations', (_name, codec) => {
    const compressed = compress(codec, textLike(20_000, 11));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(compressed.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (edits) => {
        const mutated = Buffer.from(compressed);
        for (const [at, value] of edits) mutated[at] = value;
        decompressOrTypedError(codec, mutated, 20_000);
      }),
      { numRuns: 150 },
    );
  });

  it.each(CODECS.map((c) => [compressionName(c), c] as const))('%s: random bytes', (_name, codec) => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (raw) => decompressOrTypedError(codec, Buffer.from(raw), 10_000)),
      { numRuns: 300 },
    );
  });

  it('rejects unknown codec ids', () => {
    expect(expectCompressionError(() => decompress(5, Buffer.alloc(4), 10)).problem).toBe('unsupported');
    expect(() => compress(7 as CompressionType, Buffer.alloc(1))).toThrow(CompressionError);
  });
});

describe('snappy framing', () => {
  it("writes snappy-java's xerial stream: magic, version 1, compatible 1, then 32 KiB chunks", () => {
    const input = textLike(3 * XERIAL_BLOCK_BYTES + 5, 5);
    const out = compress(Compression.snappy, input);
    expect(out.subarray(0, 16).toString('hex')).toBe('82534e415050590000000001' + '00000001');
    let p = 16;
    let chunks = 0;
    while (p < out.length) {
      p += 4 + out.readInt32BE(p);
      chunks++;
    }
    expect(p).toBe(out.length);
    expect(chunks).toBe(4);
  });

  it('reads a raw snappy block (librdkafka style) and concatenated xerial streams', () => {
    const input = textLike(50_000, 9);
    expect(decompress(Compression.snappy, snappyRawCompress(input), input.length).equals(input)).toBe(true);
    const twice = Buffer.concat([compress(Compression.snappy, input), compress(Compression.snappy, input)]);
    expect(decompress(Compression.snappy, twice, 2 * input.length).equals(Buffer.concat([input, input]))).toBe(true);
  });

  it('rejects a chunk whose data does not match its preamble', () => {
    const out = Buffer.from(compress(Compression.snappy, textLike(1000, 2)));
    out[16 + 4] = (out[16 + 4]! + 1) & 0x7f; // preamble of the first chunk now claims another length
    expectCompressionError(() => decompress(Compression.snappy, out, 10_000), ['malformed']);
  });
});

describe('lz4 frame', () => {
  /** A frame built by hand so each header field can be varied. */
  function frame(opts: { flg?: number; bd?: number; blocks: Buffer[]; blockChecksum?: boolean; contentSize?: number; brokenChecksum?: boolean }): Buffer {
    const flg = opts.flg ?? 0x60 | (opts.blockChecksum === true ? 0x10 : 0) | (opts.contentSize !== undefined ? 0x08 : 0);
    const descriptor = [0x04, 0x22, 0x4d, 0x18, flg, opts.bd ?? 0x40];
    if (opts.contentSize !== undefined) {
      const size = Buffer.alloc(8);
      size.writeBigUInt64LE(BigInt(opts.contentSize));
      descriptor.push(...size);
    }
    const head = Buffer.from(descriptor);
    // The pre-v2 Kafka bug hashed the magic too; only the correct variant is valid for magic v2 batches.
    const hc = (xxhash32(head, opts.brokenChecksum === true ? 0 : 4, head.length) >>> 8) & 0xff;
    const parts: Buffer[] = [head, Buffer.from([hc])];
    for (const block of opts.blocks) {
      const size = Buffer.alloc(4);
      size.writeUInt32LE((block.length | 0x80000000) >>> 0);
      parts.push(size, block);
      if (opts.blockChecksum === true) {
        const checksum = Buffer.alloc(4);
        checksum.writeUInt32LE(xxhash32(block));
        parts.push(checksum);
      }
    }
    parts.push(Buffer.alloc(4));
    return Buffer.concat(parts);
  }

  it('writes frames Java reads: magic 0x184D2204, version 01, independent blocks, no checksums', () => {
    for (const size of [0, 100, 70_000, 300_000, 5 * MiB]) {
      const out = compress(Compression.lz4, textLike(size, size));
      expect(out.readUInt32LE(0)).toBe(LZ4_FRAME_MAGIC);
      const flg = out[4]!;
      expect(flg & 0xc0).toBe(0x40);
      expect(flg & 0x20).toBe(0x20);
      expect(flg & 0x17).toBe(0);
      expect([0x40, 0x50, 0x60, 0x70]).toContain(out[5]);
      const descriptorEnd = (flg & 0x08) !== 0 ? 14 : 6;
      expect(out[descriptorEnd]).toBe((xxhash32(out, 4, descriptorEnd) >>> 8) & 0xff);
    }
  });

  it('reads uncompressed blocks, content size and block checksums', () => {
    const a = Buffer.from('hello ');
    const b = Buffer.from('world');
    expect(decompress(Compression.lz4, frame({ blocks: [a, b] }), 11).toString()).toBe('hello world');
    expect(decompress(Compression.lz4, frame({ blocks: [a, b], contentSize: 11, blockChecksum: true }), 11).toString()).toBe('hello world');
  });

  it('rejects what Java rejects: dependent blocks, dictionary id, bad version, bad block size, broken checksum', () => {
    const blocks = [Buffer.from('abc')];
    expectCompressionError(() => decompress(Compression.lz4, frame({ blocks, flg: 0x40 }), 10), ['malformed']);
    expectCompressionError(() => decompress(Compression.lz4, frame({ blocks, flg: 0x61 }), 10), ['malformed']);
    expectCompressionError(() => decompress(Compression.lz4, frame({ blocks, flg: 0xa0 }), 10), ['malformed']);
    expectCompressionError(() => decompress(Compression.lz4, frame({ blocks, bd: 0x30 }), 10), ['malformed']);
    expectCompressionError(() => decompress(Compression.lz4, frame({ blocks, brokenChecksum: true }), 10), ['malformed']);
  });

  it('rejects a wrong block checksum, a content size mismatch and a block above the block maximum', () => {
    const good = frame({ blocks: [Buffer.from('abcdef')], blockChecksum: true });
    const badChecksum = Buffer.from(good);
    badChecksum[badChecksum.length - 5] = badChecksum[badChecksum.length - 5]! ^ 1;
    expectCompressionError(() => decompress(Compression.lz4, badChecksum, 10), ['malformed']);
    expectCompressionError(() => decompress(Compression.lz4, frame({ blocks: [Buffer.from('abcdef')], contentSize: 5 }), 10), ['malformed']);
    expectCompressionError(() => decompress(Compression.lz4, frame({ blocks: [Buffer.from('abcdef')], contentSize: 7 }), 10), ['malformed']);
    expectCompressionError(() => decompress(Compression.lz4, frame({ blocks: [Buffer.alloc(65_537)] }), MiB), ['malformed']);
  });

  it('rejects back-references before the start of the block', () => {
    // token: 1 literal, match length 4; literal 'a'; offset 2 (only 1 byte decoded so far); then end literals.
    const block = Buffer.from([0x10, 0x61, 0x02, 0x00, 0x10, 0x62]);
    const head = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40]);
    const input = Buffer.concat([head, Buffer.from([(xxhash32(head, 4, 6) >>> 8) & 0xff]), Buffer.from([block.length, 0, 0, 0]), block, Buffer.alloc(4)]);
    expectCompressionError(() => decompress(Compression.lz4, input, 100), ['malformed']);
  });

  it('rejects back-references into the previous block (Kafka frames have independent blocks)', () => {
    const head = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40]);
    const first = Buffer.from('abcd');
    // Block 2: no literals, a 4-byte match at offset 4 (inside block 1), then the final literal 'x'.
    const second = Buffer.from([0x00, 0x04, 0x00, 0x10, 0x78]);
    const input = Buffer.concat([
      head, Buffer.from([(xxhash32(head, 4, 6) >>> 8) & 0xff]),
      Buffer.from([first.length, 0, 0, 0x80]), first,
      Buffer.from([second.length, 0, 0, 0]), second,
      Buffer.alloc(4),
    ]);
    expectCompressionError(() => decompress(Compression.lz4, input, 100), ['malformed']);
  });
});

describe('xxhash32', () => {
  it('matches the reference vectors', () => {
    expect(xxhash32(Buffer.from(''))).toBe(0x02cc5d05);
    expect(xxhash32(Buffer.from('a'))).toBe(0x550d7456);
    expect(xxhash32(Buffer.from('abc'))).toBe(0x32d153ff);
    expect(xxhash32(Buffer.from('Nobody inspects the spammish repetition'))).toBe(0xe2293b2f);
    expect(xxhash32(Buffer.from(''), 0, 0, 1)).toBe(0x0b2cb792);
    // Cross-checked against xxhash-wasm (the reference C code compiled to wasm).
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) & 255));
    expect(xxhash32(bytes, 0, bytes.length, 12345)).toBe(0x842a5b09);
  });
});
