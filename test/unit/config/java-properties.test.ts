import { describe, expect, it } from 'vitest';
import { parseJavaProperties } from '../../../broker/src/config/java-properties.ts';

/** key -> value of the last occurrence, as java.util.Properties would hold them. */
const load = (text: string): Record<string, string> => Object.fromEntries([...parseJavaProperties(text).values].map(([k, e]) => [k, e.value]));

describe('parseJavaProperties', () => {
  it('accepts = and : separators, and a blank as separator', () => {
    expect(load('a=1\nb:2\nc 3\nd\t4\ne\f5')).toEqual({ a: '1', b: '2', c: '3', d: '4', e: '5' });
  });

  it('skips blanks around the separator but keeps trailing blanks of the value', () => {
    expect(load('key   =   value  \n')).toEqual({ key: 'value  ' });
    // Only one separator is skipped: "a = = b" has value "= b".
    expect(load('a = = b')).toEqual({ a: '= b' });
    // A blank then '=' still counts as one separator.
    expect(load('a  :b')).toEqual({ a: 'b' });
  });

  it('treats # and ! lines as comments, also after leading blanks', () => {
    expect(load('# comment\n! also\n   # indented\nk=v')).toEqual({ k: 'v' });
  });

  it('keeps # inside a value', () => {
    expect(load('k=v # not a comment')).toEqual({ k: 'v # not a comment' });
  });

  it('skips blank lines and whitespace-only lines', () => {
    expect(load('\n\n  \t\na=1\n\n')).toEqual({ a: '1' });
  });

  it('a key with no value gets the empty string', () => {
    expect(load('lonely\nother=\nthird:')).toEqual({ lonely: '', other: '', third: '' });
  });

  it('joins continuation lines and skips the leading blanks of the continued line', () => {
    expect(load('listeners=PLAINTEXT://:9092,\\\n    CONTROLLER://:9093\nnext=1')).toEqual({
      listeners: 'PLAINTEXT://:9092,CONTROLLER://:9093',
      next: '1',
    });
  });

  it('an even number of trailing backslashes is an escaped backslash, not a continuation', () => {
    expect(load('path=C:\\\\dir\\\\\nnext=1')).toEqual({ path: 'C:\\dir\\', next: '1' });
  });

  it('a comment line ending in a backslash does not continue', () => {
    expect(load('# comment \\\nk=v')).toEqual({ k: 'v' });
  });

  it('a continued line starting with # is not a comment', () => {
    expect(load('k=a\\\n#b')).toEqual({ k: 'a#b' });
  });

  it('a dangling backslash at the end of the text is dropped', () => {
    expect(load('k=v\\')).toEqual({ k: 'v' });
  });

  it('a continuation followed by an empty line ends the value there', () => {
    expect(load('k=a\\\n\nnext=1')).toEqual({ k: 'a', next: '1' });
  });

  it('handles \\r\\n and lone \\r line endings', () => {
    expect(load('a=1\r\nb=2\rc=3')).toEqual({ a: '1', b: '2', c: '3' });
    expect(load('a=x\\\r\n  y')).toEqual({ a: 'xy' });
  });

  it('resolves escapes in keys and values', () => {
    expect(load('my\\ key\\=x\\:y=tab\\there\\nnl\\u00e9\\q')).toEqual({ 'my key=x:y': 'tab\there\nnlé' + 'q' });
    expect(load('k=\\#\\!\\\\')).toEqual({ k: '#!\\' });
  });

  it('reports a malformed \\u escape with its line number and keeps going', () => {
    const parsed = parseJavaProperties('a=1\nb=\\u12x4\nc=3');
    expect(parsed.errors).toEqual([{ line: 2, message: 'Malformed \\uxxxx encoding.' }]);
    expect([...parsed.values.keys()]).toEqual(['a', 'c']);
  });

  it('records the line where each logical line starts', () => {
    const parsed = parseJavaProperties('# header\n\na=1\nb=x\\\n  y\nc=3');
    expect(parsed.entries.map((e) => [e.key, e.line])).toEqual([
      ['a', 3],
      ['b', 4],
      ['c', 6],
    ]);
  });

  it('keeps every duplicate in entries and the last one in values', () => {
    const parsed = parseJavaProperties('a=1\na=2');
    expect(parsed.entries).toHaveLength(2);
    expect(parsed.values.get('a')).toEqual({ key: 'a', value: '2', line: 2 });
  });

  it('never throws on arbitrary input', () => {
    for (const text of ['\\', '\\u', '=', ':', '\\\n\\\n', '\r\r\n\n', 'a\\', '\\\\\\']) {
      expect(() => parseJavaProperties(text)).not.toThrow();
    }
  });
});
