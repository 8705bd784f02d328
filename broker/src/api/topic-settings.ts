/** The effective per-topic settings the request handlers need, resolved from topic overrides and broker config. */
export interface TopicSettings {
  /** max.message.bytes */
  readonly maxMessageBytes: number;
  /** cleanup.policy contains compact */
  readonly compacted: boolean;
  /** message.timestamp.type=LogAppendTime */
  readonly logAppendTime: boolean;
  /** message.timestamp.before.max.ms / after.max.ms */
  readonly timestampBeforeMaxMs: number;
  readonly timestampAfterMaxMs: number;
  /** min.insync.replicas */
  readonly minInsyncReplicas: number;
}

export interface TopicSettingsSource {
  settings(topic: string): TopicSettings;
}
