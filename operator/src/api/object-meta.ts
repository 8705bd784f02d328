/** The subset of Kubernetes ObjectMeta the operator reads from its own resources and writes on children. */
export interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly generation?: number;
  readonly creationTimestamp?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Values a user may write in a `config` map; rendered to strings in server.properties. */
export type ConfigScalar = string | number | boolean;
