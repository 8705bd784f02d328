/** Property tests: the properties reader against a Java-compatible writer, and the value formats round-tripping. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { javaDoubleToString, parseTyped, toKafkaString } from '../../../broker/src/config/config-def.ts';
import { parseJavaProperties } from '../../../broker/src/config/java-properties.ts';

const RUNS = { numRuns: 300, interruptAfterTimeLimit: 5_000 };

/** java.util.Properties.store's escaping (saveConvert), so that load(store(map)) == map. */
function escape(s: string, isKey: boolean): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? '';
    const code = c.charCodeAt(0);
    if (c === ' ') out += i === 0 || isKey ? '\\ ' : ' ';
    else if (c === '\t') out += '\\t';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\f') out += '\\f';
    else if ('=:#!\\'.includes(c)) out += `\\${c}`;
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += c;
  }
  return out;
}

describe('properties reader', () => {
  it('reads back what a Java-compatible writer stores', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, unit: 'binary' }), fc.string({ unit: 'binary' }), { maxKeys: 8 }), fc.constantFrom('=', ':', ' = ', '\t'), (map, sep) => {
        const text = Object.entries(map)
          .map(([k, v]) => `${escape(k, true)}${sep}${escape(v, false)}`)
          .join('\n');
        const parsed = parseJavaProperties(text);
        expect(parsed.errors).toEqual([]);
        expect(Object.fromEntries([...parsed.values].map(([k, e]) => [k, e.value]))).toEqual(map);
      }),
      RUNS,
    );
  });

  it('never throws, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', '=', ':', ' ', '\\', '\n', '\r', '#', '!', 'u', '0', '\t') }), (text) => {
        parseJavaProperties(text);
      }),
      RUNS,
    );
  });
});

describe('value formats', () => {
  it('longs round-trip exactly through their Kafka string form', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (n) => {
        const parsed = parseTyped('long', toKafkaString('long', n) ?? '');
        expect(parsed).toEqual({ ok: true, value: n });
      }),
      RUNS,
    );
  });

  it("doubles round-trip through Java's Double.toString form", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const parsed = parseTyped('double', javaDoubleToString(x));
        expect(parsed.ok && Object.is(parsed.value, x)).toBe(true);
      }),
      RUNS,
    );
  });
});
