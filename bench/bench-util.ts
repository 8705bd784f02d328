/** Tiny benchmark harness: runs a function repeatedly for a time budget and reports the rate. */
export interface Rate {
  readonly opsPerSec: number;
  readonly bytesPerSec: number;
}

export function measure(bytesPerOp: number, budgetMs: number, fn: () => void): Rate {
  // Warm-up so the JIT has compiled the path before we time it.
  const warmEnd = performance.now() + Math.min(300, budgetMs / 4);
  while (performance.now() < warmEnd) fn();
  let ops = 0;
  const start = performance.now();
  let now = start;
  const end = start + budgetMs;
  while (now < end) {
    for (let i = 0; i < 16; i++) fn();
    ops += 16;
    now = performance.now();
  }
  const seconds = (now - start) / 1000;
  return { opsPerSec: ops / seconds, bytesPerSec: (ops * bytesPerOp) / seconds };
}

export const mbps = (r: Rate): string => `${(r.bytesPerSec / 1e6).toFixed(0).padStart(7)} MB/s`;
export const opsps = (r: Rate): string => `${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(11)} ops/s`;
export const fraction = (r: Rate, baseline: Rate): string => `${((r.bytesPerSec / baseline.bytesPerSec) * 100).toFixed(1).padStart(6)}% of baseline`;

export function printRow(label: string, r: Rate, baseline?: Rate): void {
  console.log(`${label.padEnd(46)} ${opsps(r)} ${mbps(r)}${baseline ? `  ${fraction(r, baseline)}` : ''}`);
}
