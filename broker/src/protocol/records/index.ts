/**
 * Record batch v2: header accessors, varints, the record walker, the builder, control records and the
 * leader-side validator. Import from here rather than from the individual files.
 */
export * from './batch-header.ts';
export * from './varint.ts';
export * from './record-iterator.ts';
export * from './batch-builder.ts';
export * from './control-records.ts';
export * from './batch-validator.ts';
