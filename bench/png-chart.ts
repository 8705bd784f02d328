/**
 * A dependency-free bar chart renderer: draws into an RGB buffer with a tiny 5x7 bitmap font and encodes a PNG
 * with node:zlib. Used by kafka-vs-millrace.ts so the chart can be produced offline without ImageMagick/rsvg.
 */
import { deflateSync } from 'node:zlib';

type RGB = readonly [number, number, number];

// 5x7 glyphs, one string per row, '#' = ink. Only the characters the chart needs.
const FONT: Record<string, readonly string[]> = {
  '0': ['.###.', '#...#', '#..##', '#.#.#', '##..#', '#...#', '.###.'],
  '1': ['..#..', '.##..', '..#..', '..#..', '..#..', '..#..', '.###.'],
  '2': ['.###.', '#...#', '....#', '...#.', '..#..', '.#...', '#####'],
  '3': ['####.', '....#', '....#', '.###.', '....#', '....#', '####.'],
  '4': ['...#.', '..##.', '.#.#.', '#..#.', '#####', '...#.', '...#.'],
  '5': ['#####', '#....', '####.', '....#', '....#', '#...#', '.###.'],
  '6': ['..##.', '.#...', '#....', '####.', '#...#', '#...#', '.###.'],
  '7': ['#####', '....#', '...#.', '..#..', '.#...', '.#...', '.#...'],
  '8': ['.###.', '#...#', '#...#', '.###.', '#...#', '#...#', '.###.'],
  '9': ['.###.', '#...#', '#...#', '.####', '....#', '...#.', '.##..'],
  '.': ['.....', '.....', '.....', '.....', '.....', '.##..', '.##..'],
  'x': ['.....', '.....', '#...#', '.#.#.', '..#..', '.#.#.', '#...#'],
  'S': ['.####', '#....', '#....', '.###.', '....#', '....#', '####.'],
  '-': ['.....', '.....', '.....', '#####', '.....', '.....', '.....'],
  '=': ['.....', '.....', '#####', '.....', '#####', '.....', '.....'],
  ' ': ['.....', '.....', '.....', '.....', '.....', '.....', '.....'],
  '?': ['.###.', '#...#', '....#', '...#.', '..#..', '.....', '..#..'],
};

class Canvas {
  readonly pixels: Buffer;
  readonly width: number;
  readonly height: number;
  constructor(width: number, height: number, bg: RGB) {
    this.width = width;
    this.height = height;
    this.pixels = Buffer.alloc(width * height * 3);
    this.fill(0, 0, width, height, bg);
  }
  fill(x0: number, y0: number, w: number, h: number, c: RGB): void {
    const x1 = Math.min(this.width, Math.round(x0 + w));
    const y1 = Math.min(this.height, Math.round(y0 + h));
    for (let y = Math.max(0, Math.round(y0)); y < y1; y++) {
      for (let x = Math.max(0, Math.round(x0)); x < x1; x++) {
        const i = (y * this.width + x) * 3;
        this.pixels[i] = c[0];
        this.pixels[i + 1] = c[1];
        this.pixels[i + 2] = c[2];
      }
    }
  }
  text(x: number, y: number, s: string, c: RGB, scale = 2): void {
    let cx = x;
    for (const ch of s) {
      const g = FONT[ch] ?? FONT['?'] ?? [];
      g.forEach((row, ry) => {
        for (let rx = 0; rx < row.length; rx++) if (row[rx] === '#') this.fill(cx + rx * scale, y + ry * scale, scale, scale, c);
      });
      cx += 6 * scale;
    }
  }
  static textWidth(s: string, scale = 2): number {
    return s.length * 6 * scale - scale;
  }
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = (CRC_TABLE[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

function encodePng(c: Canvas): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(c.width, 0);
  ihdr.writeUInt32BE(c.height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour RGB
  const raw = Buffer.alloc((c.width * 3 + 1) * c.height);
  for (let y = 0; y < c.height; y++) {
    raw[y * (c.width * 3 + 1)] = 0; // filter: none
    c.pixels.copy(raw, y * (c.width * 3 + 1) + 1, y * c.width * 3, (y + 1) * c.width * 3);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export interface Bar {
  /** Short label drawn under the bar (digits, '.', 'x', 'S', '-', '=' and space only). */
  readonly label: string;
  /** Value; NaN draws a "-" (failed / not measured). */
  readonly value: number;
}

/** Vertical bar chart of ratios with a dashed line at 1.0 (parity). Returns PNG bytes. */
export function ratioBarChartPng(bars: readonly Bar[]): Buffer {
  const W = 120 + bars.length * 110;
  const H = 360;
  const top = 30;
  const bottom = 60;
  const left = 70;
  const plotH = H - top - bottom;
  const finite = bars.map((b) => b.value).filter((v) => Number.isFinite(v));
  const maxV = Math.max(1.2, ...finite.map((v) => v * 1.15));
  const c = new Canvas(W, H, [255, 255, 255]);
  const axis: RGB = [60, 60, 60];
  const yOf = (v: number): number => top + plotH - (v / maxV) * plotH;
  // y grid + labels
  const step = maxV > 4 ? 1 : maxV > 2 ? 0.5 : 0.25;
  for (let v = 0; v <= maxV + 1e-9; v += step) {
    const y = yOf(v);
    c.fill(left, y, W - left - 20, 1, [225, 225, 225]);
    const s = `${v.toFixed(2)}x`;
    c.text(left - 8 - Canvas.textWidth(s), y - 7, s, axis);
  }
  c.fill(left, top, 2, plotH + 1, axis);
  c.fill(left, top + plotH, W - left - 20, 2, axis);
  bars.forEach((b, i) => {
    const x = left + 30 + i * 110;
    if (Number.isFinite(b.value)) {
      const y = yOf(b.value);
      const colour: RGB = b.value >= 1 ? [46, 139, 87] : [70, 110, 200];
      c.fill(x, y, 60, top + plotH - y, colour);
      const s = `${b.value.toFixed(2)}x`;
      c.text(x + 30 - Canvas.textWidth(s) / 2, y - 20, s, axis);
    } else {
      c.text(x + 30 - Canvas.textWidth('-') / 2, top + plotH - 22, '-', [200, 40, 40]);
    }
    c.text(x + 30 - Canvas.textWidth(b.label) / 2, top + plotH + 14, b.label, axis);
  });
  // dashed parity line at 1.0x
  const y1 = yOf(1);
  for (let x = left; x < W - 20; x += 12) c.fill(x, y1 - 1, 7, 2, [200, 40, 40]);
  c.text(W - 20 - Canvas.textWidth('1.00x'), y1 - 18, '1.00x', [200, 40, 40]);
  return encodePng(c);
}
