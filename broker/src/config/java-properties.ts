/**
 * A reader for Java .properties text, following java.util.Properties.load(Reader) rule by rule, so a Kafka
 * server.properties file means the same thing to Millrace as to Kafka:
 *
 * - natural lines end at \n, \r or \r\n; leading spaces, tabs and form feeds are skipped;
 * - a line whose first non-blank character is # or ! is a comment (a comment never continues onto the next
 *   line, even when it ends in a backslash);
 * - a line ending in an odd number of backslashes continues on the next line, whose leading blanks are
 *   skipped; at the end of the text a dangling continuation backslash is dropped;
 * - the key ends at the first unescaped '=', ':' or blank; then blanks, at most one '=' or ':', and more
 *   blanks are skipped; the rest of the line is the value, trailing blanks included;
 * - escapes: \t \n \r \f, \uXXXX (exactly four hex digits, else an error), and a backslash before any other
 *   character stands for that character (\= \: \# \! \\ "\ ").
 *
 * Differences from Java: the text is read as UTF-8 by the caller (Java's load(InputStream), which Kafka uses,
 * reads ISO-8859-1; \uXXXX escapes mean the same in both), and a bad \u escape is reported with its line
 * number instead of aborting the whole load. Duplicate keys: the last one wins, as in Java; the earlier lines
 * are reported so that the loader can warn.
 */

export interface PropertyEntry {
  readonly key: string;
  readonly value: string;
  /** 1-based line number where the logical line starts. */
  readonly line: number;
}

export interface PropertiesSyntaxError {
  readonly line: number;
  readonly message: string;
}

export interface ParsedProperties {
  /** Every entry in file order, duplicates included. */
  readonly entries: readonly PropertyEntry[];
  /** Last value per key (Java semantics). */
  readonly values: ReadonlyMap<string, PropertyEntry>;
  readonly errors: readonly PropertiesSyntaxError[];
}

const isBlank = (c: string): boolean => c === ' ' || c === '\t' || c === '\f';

interface LogicalLine {
  readonly text: string;
  readonly line: number;
}

/** Splits text into logical lines (comments and blank lines dropped, continuations joined). */
function logicalLines(text: string): LogicalLine[] {
  const out: LogicalLine[] = [];
  let i = 0;
  let lineNo = 1;
  const n = text.length;

  const atLineEnd = (k: number): boolean => k >= n || text[k] === '\n' || text[k] === '\r';
  /** Consumes one line terminator at k, returns the index after it. */
  const skipTerminator = (k: number): number => {
    if (text[k] === '\r' && text[k + 1] === '\n') return k + 2;
    return k + 1;
  };

  while (i < n) {
    // Start of a natural line that may begin a logical line.
    while (i < n && isBlank(text[i] ?? '')) i++;
    if (atLineEnd(i)) {
      if (i < n) {
        i = skipTerminator(i);
        lineNo++;
      }
      continue;
    }
    const startLine = lineNo;
    if (text[i] === '#' || text[i] === '!') {
      while (!atLineEnd(i)) i++;
      if (i < n) {
        i = skipTerminator(i);
        lineNo++;
      }
      continue;
    }
    let buf = '';
    for (;;) {
      let segment = '';
      while (!atLineEnd(i)) segment += text[i++];
      // Count trailing backslashes: an odd count means the line continues.
      let slashes = 0;
      for (let k = segment.length - 1; k >= 0 && segment[k] === '\\'; k--) slashes++;
      const continues = slashes % 2 === 1;
      buf += continues ? segment.slice(0, -1) : segment;
      if (i < n) {
        i = skipTerminator(i);
        lineNo++;
      }
      if (!continues || i >= n) break;
      while (i < n && isBlank(text[i] ?? '')) i++;
      // A continuation line that is empty ends the logical line (Java: the value ends there).
      if (atLineEnd(i)) {
        if (i < n) {
          i = skipTerminator(i);
          lineNo++;
        }
        break;
      }
    }
    // A logical line that is empty once its continuation backslash is removed is a blank line (Java: len == 0).
    if (buf !== '') out.push({ text: buf, line: startLine });
  }
  return out;
}

/** Resolves escapes in a key or value; throws on a malformed \u escape. */
function unescape(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? '';
    if (c !== '\\') {
      out += c;
      continue;
    }
    i++;
    const e = s[i];
    if (e === undefined) break;
    switch (e) {
      case 't':
        out += '\t';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 'f':
        out += '\f';
        break;
      case 'u': {
        const hex = s.slice(i + 1, i + 5);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new Error('Malformed \\uxxxx encoding.');
        out += String.fromCharCode(parseInt(hex, 16));
        i += 4;
        break;
      }
      default:
        out += e;
    }
  }
  return out;
}

/** Splits a logical line into raw (still escaped) key and value, as Properties.load0 does. */
function splitKeyValue(line: string): { key: string; value: string } {
  const limit = line.length;
  let keyLen = 0;
  let valueStart = limit;
  let hasSep = false;
  let precedingBackslash = false;
  while (keyLen < limit) {
    const c = line[keyLen] ?? '';
    if ((c === '=' || c === ':') && !precedingBackslash) {
      valueStart = keyLen + 1;
      hasSep = true;
      break;
    } else if (isBlank(c) && !precedingBackslash) {
      valueStart = keyLen + 1;
      break;
    }
    precedingBackslash = c === '\\' ? !precedingBackslash : false;
    keyLen++;
  }
  while (valueStart < limit) {
    const c = line[valueStart] ?? '';
    if (!isBlank(c)) {
      if (!hasSep && (c === '=' || c === ':')) hasSep = true;
      else break;
    }
    valueStart++;
  }
  return { key: line.slice(0, keyLen), value: line.slice(valueStart) };
}

export function parseJavaProperties(text: string): ParsedProperties {
  const entries: PropertyEntry[] = [];
  const errors: PropertiesSyntaxError[] = [];
  for (const { text: lineText, line } of logicalLines(text)) {
    const raw = splitKeyValue(lineText);
    try {
      entries.push({ key: unescape(raw.key), value: unescape(raw.value), line });
    } catch (err) {
      errors.push({ line, message: err instanceof Error ? err.message : String(err) });
    }
  }
  const values = new Map<string, PropertyEntry>();
  for (const entry of entries) values.set(entry.key, entry);
  return { entries, values, errors };
}
