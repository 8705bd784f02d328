/**
 * The subset of the Kubernetes API types the builders produce. Written by hand (no client library is
 * installed); field names and nesting follow core/v1, apps/v1 and policy/v1 exactly, since these objects are
 * sent to the API server as they are.
 */
export type Labels = Readonly<Record<string, string>>;

export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller: boolean;
  readonly blockOwnerDeletion: boolean;
}

export interface ChildMeta {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Labels;
  readonly annotations?: Labels;
  readonly ownerReferences: readonly OwnerReference[];
}

export interface ConfigMap {
  readonly apiVersion: 'v1';
  readonly kind: 'ConfigMap';
  readonly metadata: ChildMeta;
  readonly data: Readonly<Record<string, string>>;
}

export interface ServicePort {
  readonly name: string;
  readonly port: number;
  readonly targetPort: number;
  readonly protocol: 'TCP';
}

export interface Service {
  readonly apiVersion: 'v1';
  readonly kind: 'Service';
  readonly metadata: ChildMeta;
  readonly spec: {
    readonly type: 'ClusterIP';
    readonly clusterIP?: 'None';
    readonly publishNotReadyAddresses?: boolean;
    readonly selector: Labels;
    readonly ports: readonly ServicePort[];
  };
}

export interface PodDisruptionBudget {
  readonly apiVersion: 'policy/v1';
  readonly kind: 'PodDisruptionBudget';
  readonly metadata: ChildMeta;
  readonly spec: { readonly maxUnavailable: number; readonly selector: { readonly matchLabels: Labels } };
}

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly fieldRef: { readonly fieldPath: string } };
}

export interface HttpProbe {
  readonly httpGet: { readonly path: string; readonly port: string };
  readonly initialDelaySeconds?: number;
  readonly periodSeconds: number;
  readonly timeoutSeconds: number;
  readonly failureThreshold: number;
}

export interface Container {
  readonly name: string;
  readonly image: string;
  readonly env: readonly EnvVar[];
  readonly ports: readonly { readonly name: string; readonly containerPort: number; readonly protocol: 'TCP' }[];
  readonly volumeMounts: readonly { readonly name: string; readonly mountPath: string; readonly readOnly?: boolean }[];
  readonly readinessProbe: HttpProbe;
  readonly livenessProbe: HttpProbe;
  readonly resources?: {
    readonly requests?: Readonly<Record<string, string | number>>;
    readonly limits?: Readonly<Record<string, string | number>>;
  };
}

export interface Volume {
  readonly name: string;
  readonly configMap?: { readonly name: string };
  readonly emptyDir?: { readonly sizeLimit?: string };
}

export interface TopologySpreadConstraint {
  readonly maxSkew: number;
  readonly topologyKey: string;
  readonly whenUnsatisfiable: 'ScheduleAnyway' | 'DoNotSchedule';
  readonly labelSelector: { readonly matchLabels: Labels };
}

export interface PersistentVolumeClaimTemplate {
  readonly metadata: { readonly name: string; readonly labels: Labels };
  readonly spec: {
    readonly accessModes: readonly ['ReadWriteOnce'];
    readonly storageClassName?: string;
    readonly resources: { readonly requests: { readonly storage: string } };
  };
}

export interface StatefulSet {
  readonly apiVersion: 'apps/v1';
  readonly kind: 'StatefulSet';
  readonly metadata: ChildMeta;
  readonly spec: {
    readonly replicas: number;
    readonly serviceName: string;
    readonly podManagementPolicy: 'Parallel';
    readonly updateStrategy: { readonly type: 'OnDelete' };
    /** Kubernetes 1.31+ (GA): the first pod ordinal, which is also the pool's first node id. */
    readonly ordinals: { readonly start: number };
    readonly selector: { readonly matchLabels: Labels };
    readonly persistentVolumeClaimRetentionPolicy: { readonly whenDeleted: 'Retain' | 'Delete'; readonly whenScaled: 'Retain' };
    readonly template: {
      readonly metadata: { readonly labels: Labels; readonly annotations: Labels };
      readonly spec: {
        readonly terminationGracePeriodSeconds: number;
        readonly enableServiceLinks: false;
        readonly securityContext: { readonly fsGroup: number; readonly fsGroupChangePolicy: 'OnRootMismatch' };
        readonly containers: readonly Container[];
        readonly volumes: readonly Volume[];
        readonly topologySpreadConstraints?: readonly TopologySpreadConstraint[];
      };
    };
    readonly volumeClaimTemplates?: readonly PersistentVolumeClaimTemplate[];
  };
}

export type ChildObject = ConfigMap | Service | PodDisruptionBudget | StatefulSet;
