/**
 * Config admin APIs: DescribeConfigs (32), AlterConfigs (33, legacy full replacement) and
 * IncrementalAlterConfigs (44, KIP-339), for TOPIC and BROKER resources, as a KRaft broker forwarding to its
 * controller answers them (Kafka's ConfigHelper, ConfigAdminManager, ControllerConfigurationValidator and
 * ConfigurationControlManager).
 *
 * Alter checks, per resource, in Kafka's order (the first failure is the resource's answer):
 *   1. the resource appears once in the request (INVALID_REQUEST "Each resource must appear at most once.");
 *   2. no key twice, no null value except for DELETE (INVALID_REQUEST);
 *   3. the resource type: TOPIC, BROKER, and BROKER_LOGGER for IncrementalAlterConfigs; anything else
 *      (including CLIENT_METRICS and GROUP, which Millrace does not implement) is INVALID_REQUEST;
 *   4. TOPIC: the operations (unknown op INVALID_REQUEST, APPEND/SUBTRACT on a non-list INVALID_CONFIG), the
 *      name ('' INVALID_REQUEST, illegal INVALID_TOPIC_EXCEPTION), the resulting overrides as CreateTopics
 *      validates them (INVALID_CONFIG), then existence (UNKNOWN_TOPIC_OR_PARTITION);
 *      BROKER: the name ('' = cluster default, else this node's id, INVALID_REQUEST otherwise), the
 *      operations, then the resulting dynamic layer (read-only keys, per-broker keys at cluster level, unknown
 *      keys, bad values, cross-key rules). Kafka wraps the broker-side ConfigException in INVALID_REQUEST
 *      (KAFKA-13609), and so do we.
 * Successful resources of one request become ConfigRecords (value null = delete) written in ONE controller
 * write, so they apply atomically; validateOnly writes nothing. Alterations run one at a time, so each one
 * validates against the image that includes every earlier alteration.
 *
 * BROKER_LOGGER: Millrace has no log4j logger hierarchy to expose (it logs through pino), so a broker-logger
 * resource of this node describes as an empty list, and IncrementalAlterConfigs answers what Kafka answers
 * for a logger that does not exist: INVALID_CONFIG "Logger <name> does not exist!" (APPEND/SUBTRACT and
 * unknown operations INVALID_REQUEST, as Kafka's RuntimeLoggerManager). Legacy AlterConfigs never supported
 * it (INVALID_REQUEST "Unknown resource type 8").
 *
 * Dynamic broker configs take effect through DynamicBrokerConfig (see dynamic-broker-config.ts): the
 * handlers describe and validate against its effective configuration, and `onEffectiveConfig` lets the broker
 * use it for other requests.
 */
import type { Logger } from 'pino';
import {
  defaultAlterConfigsResponse, defaultAlterConfigsResponseAlterConfigsResourceResponse, defaultDescribeConfigsResponse,
  defaultDescribeConfigsResponseDescribeConfigsResourceResult, defaultDescribeConfigsResponseDescribeConfigsResult,
  defaultIncrementalAlterConfigsResponse, defaultIncrementalAlterConfigsResponseAlterConfigsResourceResponse,
  type AlterConfigsRequest, type AlterConfigsResponse, type DescribeConfigsRequest, type DescribeConfigsRequestDescribeConfigsResource,
  type DescribeConfigsResponse, type DescribeConfigsResponseDescribeConfigsResult, type IncrementalAlterConfigsRequest,
  type IncrementalAlterConfigsResponse,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { applyIncrementalOps, AlterConfigOp, type AlterConfigOperation, type ConfigCheckResult } from '../config/alter-configs.ts';
import {
  BROKER_CONFIG_DEF, resolveTopicConfig, TOPIC_CONFIG_DEF, validateBrokerConfigUpdate, validateTopicConfigs,
  type BrokerConfig, type DescribedConfig,
} from '../config/index.ts';
import type { Controller } from '../controller/controller.ts';
import { topicNameProblem } from '../controller/topic-names.ts';
import { ConfigResourceType, type MetadataImage } from '../metadata/metadata-image.ts';
import { metadataRecord, type MetadataRecord } from '../metadata/metadata-record.ts';
import type { HandlerTable, RequestContext } from '../server/request-context.ts';
import { DynamicBrokerConfig, type EffectiveConfig, type HostedLogs } from './dynamic-broker-config.ts';

export interface ConfigHandlerDeps {
  readonly controller: Pick<Controller, 'write'>;
  readonly image: MetadataImage;
  /** The hosted partition logs, which get their effective log config after every config change. */
  readonly replicas: HostedLogs;
  readonly nodeId: number;
  /** The validated static configuration; dynamic layers come from the image. */
  readonly staticConfig: BrokerConfig;
  readonly logger: Logger;
  /** Called with the initial effective configuration and after each dynamic broker config change. */
  readonly onEffectiveConfig?: (effective: EffectiveConfig) => void;
}

/** The outcome of one resource of an alter request: an error, or the records that apply it. */
interface ResourceOutcome {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly records: readonly MetadataRecord[];
}

const fail = (errorCode: number, errorMessage: string): ResourceOutcome => ({ errorCode, errorMessage, records: [] });
const fromCheck = (check: ConfigCheckResult & { ok: false }): ResourceOutcome => fail(check.errorCode, check.errorMessage);

const RESOURCE_TYPE_NAMES: Readonly<Record<number, string>> = {
  [ConfigResourceType.topic]: 'TOPIC',
  [ConfigResourceType.broker]: 'BROKER',
  [ConfigResourceType.brokerLogger]: 'BROKER_LOGGER',
  [ConfigResourceType.clientMetrics]: 'CLIENT_METRICS',
  [ConfigResourceType.group]: 'GROUP',
};
const resourceTypeName = (type: number): string => RESOURCE_TYPE_NAMES[type] ?? 'UNKNOWN';

/** INVALID_REQUEST for a resource type this broker does not handle in that API. */
function unsupportedResourceType(type: number): ResourceOutcome {
  const name = resourceTypeName(type);
  return type === ConfigResourceType.clientMetrics || type === ConfigResourceType.group
    ? fail(ErrorCode.INVALID_REQUEST, `Unsupported resource type ${name}: Millrace does not implement ${name} configs yet`)
    : fail(ErrorCode.INVALID_REQUEST, `Unknown resource type ${type}`);
}

/** Java's Integer.parseInt: optional sign, ASCII digits, 32-bit range; null when it would throw. */
function parseJavaInt(s: string): number | null {
  if (!/^[+-]?[0-9]+$/.test(s)) return null;
  const n = Number(s);
  return n >= -(2 ** 31) && n <= 2 ** 31 - 1 ? n : null;
}

export function createConfigHandlers(deps: ConfigHandlerDeps): HandlerTable {
  const { controller, image, nodeId } = deps;
  const dynamic = new DynamicBrokerConfig({
    staticConfig: deps.staticConfig, nodeId, image, replicas: deps.replicas, logger: deps.logger,
    ...(deps.onEffectiveConfig === undefined ? {} : { onEffectiveConfig: deps.onEffectiveConfig }),
  });
  let alterations: Promise<unknown> = Promise.resolve();
  /** Runs alterations one at a time: each validates against the image every earlier one produced. */
  const serialize = <T>(operation: () => Promise<T>): Promise<T> => {
    const run = alterations.then(operation, operation);
    alterations = run.catch(() => undefined);
    return run;
  };

  // ---- DescribeConfigs ---------------------------------------------------------------------------------

  const describeResource = (
    version: number, resource: DescribeConfigsRequestDescribeConfigsResource, includeSynonyms: boolean, includeDocumentation: boolean,
  ): DescribeConfigsResponseDescribeConfigsResult => {
    const result = defaultDescribeConfigsResponseDescribeConfigsResult();
    result.resourceType = resource.resourceType;
    result.resourceName = resource.resourceName;
    result.errorMessage = null;
    const names = resource.configurationKeys;
    const options = { names, includeSynonyms, includeDocumentation };
    const failWith = (errorCode: number, errorMessage: string): DescribeConfigsResponseDescribeConfigsResult => {
      result.errorCode = errorCode;
      result.errorMessage = errorMessage;
      return result;
    };
    let described: DescribedConfig[];
    try {
      switch (resource.resourceType) {
        case ConfigResourceType.topic: {
          const topic = resource.resourceName;
          const problem = topicNameProblem(topic);
          if (problem !== null) return failWith(ErrorCode.INVALID_TOPIC_EXCEPTION, problem);
          if (!image.topicsByName.has(topic)) return failWith(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${topic}' does not exist.`);
          described = resolveTopicConfig(image.topicConfig(topic), dynamic.current.broker).describe(options);
          break;
        }
        case ConfigResourceType.broker: {
          const name = resource.resourceName;
          if (name === '') {
            described = dynamic.current.broker.describe({ resource: 'cluster-default', ...options });
            break;
          }
          const id = parseJavaInt(name);
          if (id === null) return failWith(ErrorCode.INVALID_REQUEST, `Broker id must be an integer, but it is: ${name}`);
          if (id !== nodeId) return failWith(ErrorCode.INVALID_REQUEST, `Unexpected broker id, expected ${nodeId} or empty string, but received ${name}`);
          described = dynamic.current.broker.describe({ resource: 'broker', ...options });
          break;
        }
        case ConfigResourceType.brokerLogger: {
          const name = resource.resourceName;
          if (name === '') return failWith(ErrorCode.INVALID_REQUEST, 'Broker id must not be empty');
          const id = parseJavaInt(name);
          if (id === null) return failWith(ErrorCode.INVALID_REQUEST, `Broker id must be an integer, but it is: ${name}`);
          if (id !== nodeId) return failWith(ErrorCode.INVALID_REQUEST, `Unexpected broker id, expected ${nodeId} but received ${name}`);
          described = []; // no log4j loggers (see the module comment)
          break;
        }
        default: {
          const unsupported = unsupportedResourceType(resource.resourceType);
          return failWith(unsupported.errorCode, unsupported.errorMessage ?? '');
        }
      }
    } catch (error) {
      deps.logger.error({ err: error, resourceType: resource.resourceType, resourceName: resource.resourceName }, 'describing configs failed');
      return failWith(ErrorCode.UNKNOWN_SERVER_ERROR, error instanceof Error ? error.message : String(error));
    }
    for (const d of described) {
      const entry = defaultDescribeConfigsResponseDescribeConfigsResourceResult();
      entry.name = d.name;
      entry.value = d.value;
      entry.readOnly = d.readOnly;
      // IsDefault exists only in v0 (and may not be written later); ConfigSource replaces it from v1.
      if (version === 0) entry.isDefault = d.isDefault;
      entry.configSource = d.configSource;
      entry.isSensitive = d.isSensitive;
      entry.synonyms = d.synonyms.map((s) => ({ name: s.name, value: s.value, source: s.source }));
      entry.configType = d.configType;
      entry.documentation = d.documentation;
      result.configs.push(entry);
    }
    return result;
  };

  const describeConfigs = (ctx: RequestContext, request: DescribeConfigsRequest): DescribeConfigsResponse => {
    const response = defaultDescribeConfigsResponse();
    // IncludeSynonyms exists from v1, IncludeDocumentation from v3; older versions decode them as false.
    for (const resource of request.resources) {
      response.results.push(describeResource(ctx.apiVersion, resource, request.includeSynonyms, request.includeDocumentation));
    }
    return response;
  };

  // ---- Alter: shared steps -----------------------------------------------------------------------------

  /** ConfigAdminManager.preprocess: duplicate keys, then null values (allowed only for DELETE). */
  const preprocess = (configs: readonly AlterConfigOperation[]): ResourceOutcome | null => {
    const names = configs.map((c) => c.name);
    if (new Set(names).size !== names.length) return fail(ErrorCode.INVALID_REQUEST, 'Error due to duplicate config keys');
    const nulls = configs.filter((c) => c.value === null && c.op !== AlterConfigOp.DELETE).map((c) => c.name);
    if (nulls.length > 0) return fail(ErrorCode.INVALID_REQUEST, `Null value not supported for : ${nulls.join(', ')}`);
    return null;
  };

  /** The records that turn `current` into `next` for one resource (only the keys that change). */
  const recordsFor = (resourceType: number, resourceName: string, current: ReadonlyMap<string, string>, next: ReadonlyMap<string, string>): MetadataRecord[] => {
    const records: MetadataRecord[] = [];
    for (const [name, value] of next) {
      if (current.get(name) !== value) records.push(metadataRecord(4, { resourceType, resourceName, name, value }));
    }
    for (const name of current.keys()) {
      if (!next.has(name)) records.push(metadataRecord(4, { resourceType, resourceName, name, value: null }));
    }
    return records;
  };

  /** ControllerConfigurationValidator (TOPIC) and the existence check, on the complete new overrides. */
  const finishTopic = (topic: string, next: ReadonlyMap<string, string>): ResourceOutcome => {
    if (topic === '') return fail(ErrorCode.INVALID_REQUEST, 'Default topic resources are not allowed.');
    const problem = topicNameProblem(topic);
    if (problem !== null) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, problem);
    const checked = validateTopicConfigs(next, { broker: dynamic.current.broker });
    if (!checked.ok) return fromCheck(checked);
    if (!image.topicsByName.has(topic)) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${topic}' does not exist.`);
    return { errorCode: ErrorCode.NONE, errorMessage: null, records: recordsFor(ConfigResourceType.topic, topic, image.topicConfig(topic), checked.configs) };
  };

  type BrokerLevel = { readonly level: 'broker' | 'cluster-default'; readonly resourceName: string; readonly layer: ReadonlyMap<string, string> };
  /** '' is the cluster default; anything else must be this node's id (ConfigAdminManager.validateResourceNameIsCurrentNodeId). */
  const brokerLevel = (name: string): BrokerLevel | ResourceOutcome => {
    if (name === '') return { level: 'cluster-default', resourceName: '', layer: image.brokerConfig('') };
    const id = parseJavaInt(name);
    if (id === null) return fail(ErrorCode.INVALID_REQUEST, `Node id must be an integer, but it is: ${name}`);
    if (id !== nodeId) return fail(ErrorCode.INVALID_REQUEST, `Unexpected broker id, expected ${nodeId}, but received ${name}`);
    // Stored under the canonical id, so that "01" reaches the broker that reads "1".
    return { level: 'broker', resourceName: String(nodeId), layer: image.brokerConfig(String(nodeId)) };
  };

  /** DynamicBrokerConfig.validate on the complete new layer; Kafka answers its ConfigException with INVALID_REQUEST. */
  const finishBroker = (target: BrokerLevel, next: ReadonlyMap<string, string>): ResourceOutcome => {
    const checked = validateBrokerConfigUpdate(dynamic.current.broker, target.level, next);
    if (!checked.ok) return fail(ErrorCode.INVALID_REQUEST, checked.errorMessage);
    return { errorCode: ErrorCode.NONE, errorMessage: null, records: recordsFor(ConfigResourceType.broker, target.resourceName, target.layer, checked.configs) };
  };

  /** RuntimeLoggerManager with no loggers: every named logger is unknown. */
  const alterBrokerLoggers = (name: string, ops: readonly AlterConfigOperation[]): ResourceOutcome => {
    const id = parseJavaInt(name);
    if (id === null) return fail(ErrorCode.INVALID_REQUEST, `Node id must be an integer, but it is: ${name}`);
    if (id !== nodeId) return fail(ErrorCode.INVALID_REQUEST, `Unexpected node id. Expected ${nodeId}, but received ${name}`);
    for (const op of ops) {
      switch (op.op) {
        case AlterConfigOp.SET:
        case AlterConfigOp.DELETE:
          return fail(ErrorCode.INVALID_CONFIG, `Logger ${op.name} does not exist!`);
        case AlterConfigOp.APPEND:
          return fail(ErrorCode.INVALID_REQUEST, 'APPEND operation is not allowed for the BROKER_LOGGER resource');
        case AlterConfigOp.SUBTRACT:
          return fail(ErrorCode.INVALID_REQUEST, 'SUBTRACT operation is not allowed for the BROKER_LOGGER resource');
        default:
          return fail(ErrorCode.INVALID_REQUEST, `Unknown operation type ${op.op} is not allowed for the BROKER_LOGGER resource`);
      }
    }
    return { errorCode: ErrorCode.NONE, errorMessage: null, records: [] };
  };

  const planLegacy = (resourceType: number, name: string, configs: readonly AlterConfigOperation[]): ResourceOutcome => {
    const rejected = preprocess(configs);
    if (rejected !== null) return rejected;
    const next = new Map(configs.map((c) => [c.name, c.value ?? ''] as const));
    switch (resourceType) {
      case ConfigResourceType.topic:
        return finishTopic(name, next);
      case ConfigResourceType.broker: {
        const target = brokerLevel(name);
        return 'errorCode' in target ? target : finishBroker(target, next);
      }
      default:
        // Legacy AlterConfigs never supported BROKER_LOGGER ("Unknown resource type 8", as Kafka).
        return unsupportedResourceType(resourceType);
    }
  };

  const planIncremental = (resourceType: number, name: string, ops: readonly AlterConfigOperation[]): ResourceOutcome => {
    const rejected = preprocess(ops);
    if (rejected !== null) return rejected;
    switch (resourceType) {
      case ConfigResourceType.topic: {
        const applied = applyIncrementalOps(TOPIC_CONFIG_DEF, image.topicConfig(name), ops);
        return applied.ok ? finishTopic(name, applied.configs) : fromCheck(applied);
      }
      case ConfigResourceType.broker: {
        const target = brokerLevel(name);
        if ('errorCode' in target) return target;
        const applied = applyIncrementalOps(BROKER_CONFIG_DEF, target.layer, ops);
        return applied.ok ? finishBroker(target, applied.configs) : fromCheck(applied);
      }
      case ConfigResourceType.brokerLogger:
        return alterBrokerLoggers(name, ops);
      default:
        return unsupportedResourceType(resourceType);
    }
  };

  interface AlterResource {
    readonly resourceType: number;
    readonly resourceName: string;
    readonly ops: readonly AlterConfigOperation[];
  }

  /** Plans every resource, writes the successful ones in one batch (unless validateOnly), returns the outcomes in request order. */
  const alter = (resources: readonly AlterResource[], validateOnly: boolean, plan: (r: AlterResource) => ResourceOutcome): Promise<ResourceOutcome[]> =>
    serialize(async () => {
      const key = (r: AlterResource): string => `${r.resourceType}:${r.resourceName}`;
      const counts = new Map<string, number>();
      for (const r of resources) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
      const outcomes = resources.map((r): ResourceOutcome => {
        if ((counts.get(key(r)) ?? 0) > 1) return fail(ErrorCode.INVALID_REQUEST, 'Each resource must appear at most once.');
        try {
          return plan(r);
        } catch (error) {
          deps.logger.error({ err: error, resourceType: r.resourceType, resourceName: r.resourceName }, 'altering configs failed');
          return fail(ErrorCode.UNKNOWN_SERVER_ERROR, error instanceof Error ? error.message : String(error));
        }
      });
      const records = validateOnly ? [] : outcomes.flatMap((o) => o.records);
      if (records.length === 0) return outcomes;
      try {
        await controller.write(records);
        return outcomes;
      } catch (error) {
        deps.logger.error({ err: error }, 'writing config records failed');
        const message = `the config change could not be written: ${error instanceof Error ? error.message : String(error)}`;
        return outcomes.map((o) => (o.records.length > 0 ? fail(ErrorCode.UNKNOWN_SERVER_ERROR, message) : o));
      }
    });

  // ---- AlterConfigs / IncrementalAlterConfigs ----------------------------------------------------------

  const alterConfigs = async (_ctx: RequestContext, request: AlterConfigsRequest): Promise<AlterConfigsResponse> => {
    const resources = request.resources.map((r) => ({
      resourceType: r.resourceType,
      resourceName: r.resourceName,
      ops: r.configs.map((c) => ({ name: c.name, op: AlterConfigOp.SET, value: c.value })),
    }));
    const outcomes = await alter(resources, request.validateOnly, (r) => planLegacy(r.resourceType, r.resourceName, r.ops));
    const response = defaultAlterConfigsResponse();
    resources.forEach((r, i) => {
      const out = defaultAlterConfigsResponseAlterConfigsResourceResponse();
      out.resourceType = r.resourceType;
      out.resourceName = r.resourceName;
      out.errorCode = outcomes[i]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
      out.errorMessage = outcomes[i]?.errorMessage ?? null;
      response.responses.push(out);
    });
    return response;
  };

  const incrementalAlterConfigs = async (_ctx: RequestContext, request: IncrementalAlterConfigsRequest): Promise<IncrementalAlterConfigsResponse> => {
    const resources = request.resources.map((r) => ({
      resourceType: r.resourceType,
      resourceName: r.resourceName,
      ops: r.configs.map((c) => ({ name: c.name, op: c.configOperation, value: c.value })),
    }));
    const outcomes = await alter(resources, request.validateOnly, (r) => planIncremental(r.resourceType, r.resourceName, r.ops));
    const response = defaultIncrementalAlterConfigsResponse();
    resources.forEach((r, i) => {
      const out = defaultIncrementalAlterConfigsResponseAlterConfigsResourceResponse();
      out.resourceType = r.resourceType;
      out.resourceName = r.resourceName;
      out.errorCode = outcomes[i]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
      out.errorMessage = outcomes[i]?.errorMessage ?? null;
      response.responses.push(out);
    });
    return response;
  };

  const table: HandlerTable = {};
  table[32] = describeConfigs;
  table[33] = alterConfigs;
  table[44] = incrementalAlterConfigs;
  return table;
}
