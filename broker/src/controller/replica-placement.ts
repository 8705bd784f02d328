/**
 * Replica placement for new partitions, after Kafka's StripedReplicaPlacer: partitions are striped
 * round-robin across the usable brokers from a starting offset, so leaders (the first replica) spread
 * evenly; with racks, brokers are interleaved rack by rack so one partition's replicas land on distinct
 * racks whenever there are enough racks. Fenced brokers receive no replicas.
 */
export interface PlacementBroker {
  readonly id: number;
  readonly rack: string | null;
  readonly fenced: boolean;
}

export class PlacementError extends Error {
  override readonly name = 'PlacementError';
}

/** Orders brokers rack-interleaved: r1b1, r2b1, r3b1, r1b2, ... (ids ascending within a rack). */
function rackInterleaved(brokers: readonly PlacementBroker[]): number[] {
  const byRack = new Map<string, number[]>();
  for (const b of [...brokers].sort((x, y) => x.id - y.id)) {
    const rack = b.rack ?? '';
    const list = byRack.get(rack) ?? [];
    list.push(b.id);
    byRack.set(rack, list);
  }
  const racks = [...byRack.keys()].sort();
  const out: number[] = [];
  for (let i = 0; out.length < brokers.length; i++) {
    for (const rack of racks) {
      const id = byRack.get(rack)?.[i];
      if (id !== undefined) out.push(id);
    }
  }
  return out;
}

/**
 * Places `partitionCount` partitions of `replicationFactor` replicas, starting the stripe at
 * `startIndex` (the controller passes a rotating index so successive topics do not all lead on one broker).
 */
export function placeReplicas(brokers: readonly PlacementBroker[], partitionCount: number, replicationFactor: number, startIndex: number): number[][] {
  const usable = brokers.filter((b) => !b.fenced);
  if (replicationFactor > usable.length) {
    throw new PlacementError(`Unable to replicate the partition ${replicationFactor} time(s): The target replication factor of ${replicationFactor} cannot be reached because only ${usable.length} broker(s) are registered.`);
  }
  const order = rackInterleaved(usable);
  const n = order.length;
  const out: number[][] = [];
  for (let p = 0; p < partitionCount; p++) {
    const first = (startIndex + p) % n;
    // Shift followers by a per-round amount so that replica sets differ between stripes.
    const shift = 1 + (Math.floor((startIndex + p) / n) % Math.max(1, n - 1));
    const replicas: number[] = [order[first] as number];
    for (let r = 1; r < replicationFactor; r++) {
      let idx = (first + shift + r - 1) % n;
      while (replicas.includes(order[idx] as number)) idx = (idx + 1) % n;
      replicas.push(order[idx] as number);
    }
    out.push(replicas);
  }
  return out;
}
