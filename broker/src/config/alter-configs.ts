/**
 * The IncrementalAlterConfigs operations (KIP-339) on a set of stored overrides, as Kafka's KRaft controller
 * applies them (ConfigurationControlManager.incrementalAlterConfigResource), for any ConfigDef:
 *
 * - SET (0) stores the value; DELETE (1) removes the override (a missing override is not an error);
 * - APPEND (2) and SUBTRACT (3) only apply to LIST keys. The current list is the stored override, else the
 *   key's default; both it and the request value are split at "," (no trimming, empty parts of the current
 *   value dropped). APPEND adds each value not already present; SUBTRACT removes the first occurrence of each.
 *
 * Request-level checks come first, as in Kafka's ConfigAdminManager.preprocess: a key named twice, or a null
 * value for anything but DELETE, fails the whole resource with INVALID_REQUEST. The resulting overrides are
 * then validated by the caller (topic-config.ts validates them like CreateTopics does).
 */
import { NO_DEFAULT, toKafkaString, type ConfigDef } from './config-def.ts';

/** Kafka protocol error codes returned by config validation (org.apache.kafka.common.protocol.Errors). */
export const KAFKA_ERROR_INVALID_CONFIG = 40;
export const KAFKA_ERROR_INVALID_REQUEST = 42;

/** AlterConfigOp.OpType ids as sent in IncrementalAlterConfigs requests. */
export const AlterConfigOp = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;
export type AlterConfigOpId = (typeof AlterConfigOp)[keyof typeof AlterConfigOp];

export interface AlterConfigOperation {
  readonly name: string;
  /** An AlterConfigOp id; anything else is INVALID_REQUEST. */
  readonly op: number;
  readonly value: string | null;
}

/** The outcome of validating or altering one resource's configs: the new overrides, or a Kafka error. */
export type ConfigCheckResult =
  | { readonly ok: true; readonly configs: ReadonlyMap<string, string> }
  | { readonly ok: false; readonly errorCode: number; readonly errorMessage: string };

export const configError = (errorCode: number, errorMessage: string): ConfigCheckResult => ({ ok: false, errorCode, errorMessage });

/** Java's String.split(","): trailing empty strings removed, but "" splits to [""]. */
export function javaSplitComma(s: string): string[] {
  if (s === '') return [''];
  const parts = s.split(',');
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

const OP_NAMES = ['SET', 'DELETE', 'APPEND', 'SUBTRACT'] as const;

/** Applies the operations to `current`; does not validate the resulting values (the caller does). */
export function applyIncrementalOps(def: ConfigDef, current: ReadonlyMap<string, string>, ops: readonly AlterConfigOperation[]): ConfigCheckResult {
  const names = ops.map((o) => o.name);
  if (new Set(names).size !== names.length) return configError(KAFKA_ERROR_INVALID_REQUEST, 'Error due to duplicate config keys');
  const nullUpdates = ops.filter((o) => o.value === null && o.op !== AlterConfigOp.DELETE).map((o) => o.name);
  if (nullUpdates.length > 0) return configError(KAFKA_ERROR_INVALID_REQUEST, `Null value not supported for : ${nullUpdates.join(', ')}`);
  const unknownOp = ops.find((o) => !Number.isInteger(o.op) || o.op < 0 || o.op > 3);
  if (unknownOp !== undefined) return configError(KAFKA_ERROR_INVALID_REQUEST, `Unknown alter config operation type ${unknownOp.op} for ${unknownOp.name}`);

  const next = new Map(current);
  for (const { name, op, value } of ops) {
    switch (op) {
      case AlterConfigOp.SET:
        next.set(name, value ?? '');
        break;
      case AlterConfigOp.DELETE:
        next.delete(name);
        break;
      default: {
        const key = def.get(name);
        if (key === undefined || key.type !== 'list') {
          return configError(KAFKA_ERROR_INVALID_CONFIG, `Can't ${OP_NAMES[op] ?? op} to key ${name} because its type is not LIST.`);
        }
        const defaultString = key.default === null || key.default === NO_DEFAULT ? null : toKafkaString(key.type, key.default);
        const currentValue = next.get(name) ?? defaultString;
        const list = currentValue === null ? [] : javaSplitComma(currentValue).filter((p) => p !== '');
        for (const part of javaSplitComma(value ?? '')) {
          if (op === AlterConfigOp.APPEND) {
            if (!list.includes(part)) list.push(part);
          } else {
            const at = list.indexOf(part);
            if (at >= 0) list.splice(at, 1);
          }
        }
        next.set(name, list.join(','));
      }
    }
  }
  return { ok: true, configs: next };
}
