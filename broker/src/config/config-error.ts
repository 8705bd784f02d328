/**
 * Typed configuration errors with stable codes.
 *
 * Loading the broker configuration never stops at the first mistake: every problem found in the properties
 * file, the environment and the command line is collected as a ConfigProblem (each with its own stable code,
 * the key, the offending value, where it came from and what to do), and one ConfigError carrying all of them
 * is thrown. Every code is listed in CONFIG_ERROR_CATALOGUE and documented in DESIGN.md; a unit test checks
 * that the two stay in step.
 *
 * Topic-level validation (CreateTopics, AlterConfigs, IncrementalAlterConfigs) does not throw: it returns a
 * Kafka protocol error code and message, because those are normal protocol answers (see topic-config.ts).
 */

export const CONFIG_ERROR_CATALOGUE = {
  CONFIG_INVALID: {
    meaning: 'the broker configuration has one or more problems, all listed in ConfigError.problems; the broker does not start',
    action: 'fix every listed problem, then start again',
  },
  CONFIG_UNKNOWN_KEY: {
    meaning: 'a key that is neither a Kafka broker config Millrace accepts nor a millrace.* key',
    action: 'fix the spelling (a close match is suggested when there is one) or remove the key',
  },
  CONFIG_INVALID_VALUE: {
    meaning: 'a value that does not parse as the key type or is outside the allowed values',
    action: 'use a value from the allowed set the message shows',
  },
  CONFIG_MISSING_REQUIRED: {
    meaning: 'a key with no default (node.id, process.roles) was not set anywhere',
    action: 'set it in the properties file, as MILLRACE_<KEY>, or with --override key=value',
  },
  CONFIG_INCONSISTENT: {
    meaning: 'values that are valid one by one but contradict each other (listeners against roles, timeouts against each other)',
    action: 'change one of the named keys so that the rule in the message holds',
  },
  CONFIG_AMBIGUOUS_ENV: {
    meaning: 'an environment variable name that maps to more than one known key',
    action: 'set that key in the properties file or with --override instead',
  },
  CONFIG_SYNTAX: {
    meaning: 'a malformed properties-file line (bad \\uXXXX escape) or a malformed --override argument',
    action: 'fix the line or argument named in the message',
  },
  CONFIG_FILE_UNREADABLE: {
    meaning: 'the properties file could not be read',
    action: 'check the path and its permissions',
  },
  CONFIG_NOT_DYNAMIC: {
    meaning: 'a dynamic (KRaft-stored) broker config for a read-only key, or a per-broker key set at cluster level',
    action: 'set read-only keys statically and restart; set per-broker keys on each broker',
  },
} as const;

export type ConfigErrorCode = keyof typeof CONFIG_ERROR_CATALOGUE;
export type ConfigProblemCode = Exclude<ConfigErrorCode, 'CONFIG_INVALID'>;

/** Where a raw value came from; shown in error messages and kept for DescribeConfigs. */
export type ConfigOrigin =
  | { readonly kind: 'default' }
  | { readonly kind: 'file'; readonly path: string; readonly line: number }
  | { readonly kind: 'env'; readonly name: string }
  | { readonly kind: 'flag'; readonly index: number }
  | { readonly kind: 'dynamic-broker' }
  | { readonly kind: 'dynamic-cluster-default' }
  | { readonly kind: 'code' };

export function formatOrigin(origin: ConfigOrigin): string {
  switch (origin.kind) {
    case 'default':
      return 'default';
    case 'file':
      return `${origin.path}:${origin.line}`;
    case 'env':
      return `environment variable ${origin.name}`;
    case 'flag':
      return `command-line argument ${origin.index + 1} (--override)`;
    case 'dynamic-broker':
      return 'dynamic per-broker config';
    case 'dynamic-cluster-default':
      return 'dynamic cluster-wide config';
    case 'code':
      return 'configuration passed in code';
  }
}

export interface ConfigProblem {
  readonly code: ConfigProblemCode;
  /** The config key concerned (for CONFIG_INCONSISTENT, the first of the keys named in the message). */
  readonly key: string | null;
  /** The offending raw value, or null when there is none (or it is a password, which is never echoed). */
  readonly value: string | null;
  readonly origin: ConfigOrigin | null;
  /** What is wrong, in one sentence. */
  readonly message: string;
}

export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], options?: { cause?: unknown }) {
    super(formatProblems(problems), options);
    this.name = 'ConfigError';
    this.code = 'CONFIG_INVALID';
    this.problems = problems;
  }
}

export const isConfigError = (err: unknown): err is ConfigError => err instanceof ConfigError;

/** The text shown to an operator: each problem on its own numbered line, where it came from, and what to do. */
export function formatProblems(problems: readonly ConfigProblem[]): string {
  const count = problems.length === 1 ? '1 configuration problem' : `${problems.length} configuration problems`;
  const lines = problems.flatMap((p, i) => {
    const where = p.origin === null || p.origin.kind === 'default' ? '' : `${formatOrigin(p.origin)}: `;
    return [`  ${i + 1}. ${where}${p.message} [${p.code}]`, `     To fix: ${CONFIG_ERROR_CATALOGUE[p.code].action}.`];
  });
  return [`Millrace cannot start: ${count}`, ...lines].join('\n');
}
