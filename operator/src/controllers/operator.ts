/**
 * Both controllers on one Manager: what main.ts runs, and what the tests run in-process.
 */
import type { Manager } from '../runtime/index.ts';
import { KafkaClusterController, type KafkaClusterControllerOptions } from './kafka-cluster-controller.ts';
import { KafkaTopicController, type KafkaTopicControllerOptions } from './kafka-topic-controller.ts';

export interface OperatorControllersOptions {
  /** Watch one namespace; undefined: all namespaces. */
  readonly namespace?: string;
  /** false: no KafkaCluster controller. */
  readonly cluster?: Omit<KafkaClusterControllerOptions, 'namespace'> | false;
  /** false: no KafkaTopic controller. */
  readonly topic?: Omit<KafkaTopicControllerOptions, 'namespace'> | false;
}

export interface OperatorControllers {
  readonly cluster: KafkaClusterController | undefined;
  readonly topic: KafkaTopicController | undefined;
  /** Releases what the controllers hold (the topic controller's Kafka connections). Call after the manager stopped. */
  close(): Promise<void>;
}

export function addOperatorControllers(manager: Manager, options: OperatorControllersOptions = {}): OperatorControllers {
  const scope = options.namespace === undefined ? {} : { namespace: options.namespace };
  const cluster = options.cluster === false ? undefined : new KafkaClusterController(manager, { ...options.cluster, ...scope });
  const topic = options.topic === false ? undefined : new KafkaTopicController(manager, { ...options.topic, ...scope });
  if (cluster !== undefined) manager.addController(cluster);
  if (topic !== undefined) manager.addController(topic);
  return {
    cluster,
    topic,
    close: async () => {
      await topic?.close();
    },
  };
}
