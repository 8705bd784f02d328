/**
 * Broker and topic configuration, Kafka-compatible. See DESIGN.md in this folder.
 *
 * Startup:        loadBrokerConfig({ propertiesFile, env, overrides }) -> { config, warnings } | throws ConfigError
 * Reading:        config.get('num.partitions'), config.logRetentionMs, config.listeners, config.logDirs, ...
 * Dynamic:        config.withDynamicConfigs({ perBroker, clusterDefault }), incrementalAlterBrokerConfigs(...)
 * Topics:         resolveTopicConfig(overrides, config).get('retention.ms'), validateTopicConfigs(...),
 *                 incrementalAlterTopicConfigs(...)
 * DescribeConfigs: config.describe({ resource, names, includeSynonyms }), resolved.describe({ ... })
 */
export {
  AlterConfigOp,
  KAFKA_ERROR_INVALID_CONFIG,
  KAFKA_ERROR_INVALID_REQUEST,
  type AlterConfigOpId,
  type AlterConfigOperation,
  type ConfigCheckResult,
} from './alter-configs.ts';
export {
  BROKER_CONFIG_DEF,
  BrokerConfig,
  brokerConfigSynonyms,
  incrementalAlterBrokerConfigs,
  validateBrokerConfigUpdate,
  type BrokerConfigBuild,
  type BrokerConfigLayers,
  type BrokerConfigName,
  type BrokerConfigValue,
  type ProcessRole,
  type RawConfigValue,
} from './broker-config.ts';
export {
  CONFIG_TYPE_ID,
  ConfigDef,
  ConfigSource,
  LONG_MAX,
  longToNumber,
  NO_DEFAULT,
  parseConfigValue,
  Password,
  toKafkaString,
  type ConfigKey,
  type ConfigSourceId,
  type ConfigSynonym,
  type ConfigType,
  type ConfigValue,
  type DescribedConfig,
  type Importance,
  type UpdateMode,
  type Validator,
} from './config-def.ts';
export {
  CONFIG_ERROR_CATALOGUE,
  ConfigError,
  formatOrigin,
  isConfigError,
  type ConfigErrorCode,
  type ConfigOrigin,
  type ConfigProblem,
  type ConfigProblemCode,
} from './config-error.ts';
export { parseJavaProperties, type ParsedProperties, type PropertyEntry } from './java-properties.ts';
export { formatEndpoint, type HostPort, type ListenerEndpoint, type QuorumVoter, type SecurityProtocol } from './listeners.ts';
export {
  buildEnvIndex,
  envNameFor,
  loadBrokerConfig,
  NON_CONFIG_ENV_NAMES,
  parseBrokerCommandLine,
  resolveEnvName,
  SINGLE_NODE_SERVER_PROPERTIES,
  type BrokerCommandLine,
  type EnvResolution,
  type LoadBrokerConfigOptions,
  type LoadedBrokerConfig,
} from './load-broker-config.ts';
export {
  incrementalAlterTopicConfigs,
  ResolvedTopicConfig,
  resolveTopicConfig,
  serverSynonym,
  TOPIC_BROKER_SYNONYMS,
  TOPIC_CONFIG_DEF,
  validateTopicConfigs,
  type TopicConfigEntry,
  type TopicConfigName,
  type TopicConfigValue,
} from './topic-config.ts';
