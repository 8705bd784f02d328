/**
 * The subset of OpenAPI v3 (Kubernetes JSONSchemaProps) our CRD schemas use, and small constructors that keep
 * the schema files short. Every schema must be structural (a type on every node, or one of the
 * x-kubernetes-int-or-string / x-kubernetes-preserve-unknown-fields escapes), as the API server requires.
 */

/** A CEL validation rule (x-kubernetes-validations). A rule using oldSelf is a transition rule. */
export interface CelRule {
  readonly rule: string;
  readonly message: string;
  readonly reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  readonly fieldPath?: string;
}

export interface JsonSchema {
  readonly type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  readonly description?: string;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: JsonSchema;
  readonly items?: JsonSchema;
  readonly enum?: readonly string[];
  readonly default?: string | number | boolean;
  readonly format?: string;
  readonly pattern?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly maxProperties?: number;
  readonly anyOf?: readonly JsonSchema[];
  readonly 'x-kubernetes-int-or-string'?: true;
  readonly 'x-kubernetes-preserve-unknown-fields'?: true;
  readonly 'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  readonly 'x-kubernetes-list-map-keys'?: readonly string[];
  readonly 'x-kubernetes-validations'?: readonly CelRule[];
}

type Extra = Omit<JsonSchema, 'type' | 'description'>;

export const str = (description: string, extra: Extra = {}): JsonSchema => ({ type: 'string', description, ...extra });
export const int = (description: string, extra: Extra = {}): JsonSchema => ({ type: 'integer', description, ...extra });
export const bool = (description: string, extra: Extra = {}): JsonSchema => ({ type: 'boolean', description, ...extra });
export const arr = (description: string, items: JsonSchema, extra: Extra = {}): JsonSchema => ({ type: 'array', description, items, ...extra });
export const obj = (
  description: string,
  properties: Readonly<Record<string, JsonSchema>>,
  required: readonly string[] = [],
  extra: Extra = {},
): JsonSchema => ({ type: 'object', description, properties, ...(required.length > 0 ? { required } : {}), ...extra });

/** A Kubernetes resource quantity ("10Gi", "500m", 2), exactly as core/v1 declares it. */
export const quantity = (description: string): JsonSchema => ({
  description,
  anyOf: [{ type: 'integer' }, { type: 'string' }],
  pattern: '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$',
  'x-kubernetes-int-or-string': true,
});

/** A string-keyed map of config values (string, number or boolean; checked by the operator, not here). */
export const configMap = (description: string, maxProperties: number): JsonSchema => ({
  type: 'object',
  description,
  maxProperties,
  additionalProperties: { 'x-kubernetes-preserve-unknown-fields': true },
});

export const CONDITIONS_SCHEMA: JsonSchema = arr(
  'Current state, one entry per condition type (Ready, NotReady, Warning, ReconciliationPaused).',
  obj('A condition.', {
    type: str('Ready, NotReady, Warning or ReconciliationPaused.'),
    status: str('True, False or Unknown.', { enum: ['True', 'False', 'Unknown'] }),
    reason: str('UpperCamelCase reason, stable for alerting.'),
    message: str('Human-readable detail.'),
    lastTransitionTime: str('When the status last changed.', { format: 'date-time' }),
    observedGeneration: int('metadata.generation this condition was computed from.', { minimum: 0 }),
  }, ['type', 'status']),
  { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] },
);

export interface PrinterColumn {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  readonly jsonPath: string;
  readonly description?: string;
  readonly priority?: number;
}

export interface CustomResourceDefinition {
  readonly apiVersion: 'apiextensions.k8s.io/v1';
  readonly kind: 'CustomResourceDefinition';
  readonly metadata: { readonly name: string; readonly labels: Readonly<Record<string, string>> };
  readonly spec: {
    readonly group: string;
    readonly scope: 'Namespaced';
    readonly names: {
      readonly kind: string;
      readonly listKind: string;
      readonly plural: string;
      readonly singular: string;
      readonly shortNames: readonly string[];
      readonly categories: readonly string[];
    };
    readonly versions: readonly {
      readonly name: string;
      readonly served: boolean;
      readonly storage: boolean;
      readonly schema: { readonly openAPIV3Schema: JsonSchema };
      readonly subresources: { readonly status: Readonly<Record<string, never>> };
      readonly additionalPrinterColumns: readonly PrinterColumn[];
    }[];
  };
}
