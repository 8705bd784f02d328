import { describe, expect, it } from 'vitest';
import {
  atLeast,
  between,
  ConfigDef,
  defineKey,
  javaDoubleToString,
  javaTrim,
  listOf,
  longToNumber,
  NO_DEFAULT,
  oneOf,
  orValue,
  parseConfigValue,
  parseTyped,
  Password,
  splitList,
  toKafkaString,
} from '../../../broker/src/config/config-def.ts';
import { inspect } from 'node:util';

const value = <T>(outcome: { ok: true; value: T } | { ok: false; reason: string }): T => {
  if (!outcome.ok) throw new Error(outcome.reason);
  return outcome.value;
};
const reason = (outcome: { ok: boolean; reason?: string }): string | undefined => (outcome.ok ? undefined : outcome.reason);

describe('parsing as ConfigDef.parseType', () => {
  it('booleans are true/false in any case, after a Java trim', () => {
    expect(value(parseTyped('boolean', 'TRUE'))).toBe(true);
    expect(value(parseTyped('boolean', ' False\t'))).toBe(false);
    expect(reason(parseTyped('boolean', 'yes'))).toBe('Expected value to be either true or false');
    expect(reason(parseTyped('boolean', '1'))).toBe('Expected value to be either true or false');
  });

  it('ints follow Integer.parseInt: sign allowed, no spaces inside, no hex, 32-bit range', () => {
    expect(value(parseTyped('int', '+42'))).toBe(42);
    expect(value(parseTyped('int', '-2147483648'))).toBe(-2147483648);
    expect(value(parseTyped('int', ' 7 '))).toBe(7);
    for (const bad of ['2147483648', '1.0', '0x10', '1_000', '1 000', '', '-']) {
      expect(reason(parseTyped('int', bad)), bad).toBe('Not a number of type INT');
    }
  });

  it('shorts are 16-bit', () => {
    expect(value(parseTyped('short', '32767'))).toBe(32767);
    expect(reason(parseTyped('short', '32768'))).toBe('Not a number of type SHORT');
  });

  it('longs are exact bigints over the whole int64 range', () => {
    expect(value(parseTyped('long', '9223372036854775807'))).toBe(9223372036854775807n);
    expect(value(parseTyped('long', '-9223372036854775808'))).toBe(-9223372036854775808n);
    expect(reason(parseTyped('long', '9223372036854775808'))).toBe('Not a number of type LONG');
  });

  it('doubles follow Double.parseDouble', () => {
    expect(value(parseTyped('double', '0.5'))).toBe(0.5);
    expect(value(parseTyped('double', '1e3'))).toBe(1000);
    expect(value(parseTyped('double', '.5'))).toBe(0.5);
    expect(value(parseTyped('double', '2.'))).toBe(2);
    expect(value(parseTyped('double', '1.5d'))).toBe(1.5);
    expect(value(parseTyped('double', '-Infinity'))).toBe(-Infinity);
    expect(reason(parseTyped('double', 'abc'))).toBe('Not a number of type DOUBLE');
  });

  it('lists split at commas with whitespace around them removed and empty elements kept', () => {
    expect(value(parseTyped('list', ''))).toEqual([]);
    expect(value(parseTyped('list', '  '))).toEqual([]);
    expect(value(parseTyped('list', 'a , b,c'))).toEqual(['a', 'b', 'c']);
    expect(value(parseTyped('list', 'a,,b'))).toEqual(['a', '', 'b']);
    expect(value(parseTyped('list', 'a,'))).toEqual(['a', '']);
    expect(splitList('x')).toEqual(['x']);
  });

  it('strings are trimmed the Java way (control characters too, but not non-breaking spaces)', () => {
    expect(value(parseTyped('string', '\u0001 abc \n'))).toBe('abc');
    expect(javaTrim('\u00a0x\u00a0')).toBe('\u00a0x\u00a0');
  });

  it('class names are checked for Java syntax only', () => {
    expect(value(parseTyped('class', 'org.example.My$Inner'))).toBe('org.example.My$Inner');
    expect(reason(parseTyped('class', 'not a class'))).toBe('Class not a class could not be found.');
  });

  it('passwords never show their value', () => {
    const p = value(parseTyped('password', 'secret'));
    expect(p).toBeInstanceOf(Password);
    expect(p.value).toBe('secret');
    expect(String(p)).toBe('[hidden]');
    expect(JSON.stringify({ p })).toBe('{"p":"[hidden]"}');
    expect(inspect(p)).not.toContain('secret');
  });
});

describe('validators', () => {
  it('ranges describe themselves as Kafka does and use its messages', () => {
    expect(atLeast(1).allowed).toBe('[1,...]');
    expect(atLeast(1).check(0)).toBe('Value must be at least 1');
    expect(between(0, 1).allowed).toBe('[0,...,1]');
    expect(between(0, 1).check(1.5)).toBe('Value must be no more than 1');
    expect(atLeast(-1n).check(-2n)).toBe('Value must be at least -1');
    expect(atLeast(-1n).check(-1n)).toBeNull();
  });

  it('string sets, case-sensitive or not', () => {
    expect(oneOf(['a', 'b']).check('A')).toBe('String must be one of: a, b');
    expect(oneOf(['A', 'B'], { caseInsensitive: true }).check('b')).toBeNull();
    expect(oneOf(['A', 'B'], { caseInsensitive: true }).allowed).toBe('(case insensitive) [A, B]');
  });

  it('list elements must each be allowed (an empty element is not)', () => {
    expect(listOf(['compact', 'delete']).check(['delete', 'compact'])).toBeNull();
    expect(listOf(['compact', 'delete']).check(['delete', ''])).toBe('String must be one of: compact, delete');
  });

  it('orValue admits the special value', () => {
    const v = orValue(between(1, 9), -1);
    expect(v.allowed).toBe('[1,...,9] or -1');
    expect(v.check(-1)).toBeNull();
    expect(v.check(0)).toBe('Value must be in [1,...,9] or -1');
  });
});

describe('parseConfigValue', () => {
  const key = defineKey('num.partitions', 'int', 1, atLeast(1), 'medium', 'read-only', 'doc');

  it('names the key and the bad value, with Kafka wording', () => {
    expect(reason(parseConfigValue(key, 'zero'))).toBe('Invalid value zero for configuration num.partitions: Not a number of type INT');
    expect(reason(parseConfigValue(key, '0'))).toBe('Invalid value 0 for configuration num.partitions: Value must be at least 1');
  });

  it('never echoes a password', () => {
    const secret = defineKey('x.password', 'password', null, { allowed: 'non-empty', check: () => 'too short' }, 'low', 'read-only', 'doc');
    expect(reason(parseConfigValue(secret, 'hunter2'))).toBe('Invalid value [hidden] for configuration x.password: too short');
  });
});

describe('Kafka string form', () => {
  it('formats doubles as Java Double.toString', () => {
    expect(javaDoubleToString(0.5)).toBe('0.5');
    expect(javaDoubleToString(1)).toBe('1.0');
    expect(javaDoubleToString(1e7)).toBe('1.0E7');
    expect(javaDoubleToString(0.0001)).toBe('1.0E-4');
    expect(javaDoubleToString(Number.MAX_VALUE)).toBe('1.7976931348623157E308');
    expect(javaDoubleToString(-0)).toBe('-0.0');
    expect(javaDoubleToString(NaN)).toBe('NaN');
  });

  it('lists join with commas, longs are exact', () => {
    expect(toKafkaString('list', ['compact', 'delete'])).toBe('compact,delete');
    expect(toKafkaString('long', 9223372036854775807n)).toBe('9223372036854775807');
    expect(toKafkaString('string', null)).toBeNull();
  });

  it('longToNumber maps beyond 2^53 to Infinity ("never")', () => {
    expect(longToNumber(604800000n)).toBe(604800000);
    expect(longToNumber(9223372036854775807n)).toBe(Infinity);
    expect(longToNumber(-9223372036854775808n)).toBe(-Infinity);
  });
});

describe('ConfigDef', () => {
  it('refuses a default that fails its own validator', () => {
    expect(() => new ConfigDef([defineKey('bad', 'int', 0, atLeast(1), 'low', 'read-only', 'doc')])).toThrow(/default of bad is invalid/);
  });

  it('refuses duplicate names', () => {
    const k = defineKey('dup', 'int', 1, null, 'low', 'read-only', 'doc');
    expect(() => new ConfigDef([k, k])).toThrow(/defined twice/);
  });

  it('suggests a close key name', () => {
    const def = new ConfigDef([
      defineKey('log.retention.ms', 'long', null, null, 'high', 'cluster-wide', 'doc'),
      defineKey('node.id', 'int', NO_DEFAULT, null, 'high', 'read-only', 'doc'),
    ]);
    expect(def.suggest('log.retension.ms')).toBe('log.retention.ms');
    expect(def.suggest('something.else.entirely')).toBeNull();
  });
});
