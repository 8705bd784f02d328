/**
 * Topic name rules, as Kafka's `Topic.validate`: 1-249 characters of [a-zA-Z0-9._-], not "." or "..".
 * Names that differ only by '.' vs '_' collide (their metric names would be the same).
 */
export const TOPIC_NAME_LENGTH_MAX = 249;
const LEGAL = /^[a-zA-Z0-9._-]+$/;

/** Returns why the name is invalid, or null when it is valid. */
export function topicNameProblem(name: string): string | null {
  if (name.length === 0) return 'Topic name is illegal, it can\'t be empty';
  if (name === '.' || name === '..') return 'Topic name cannot be "." or ".."';
  if (name.length > TOPIC_NAME_LENGTH_MAX) return `Topic name is illegal, it can't be longer than ${TOPIC_NAME_LENGTH_MAX} characters, topic name: ${name}`;
  if (!LEGAL.test(name)) return `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`;
  return null;
}

/** The key under which colliding names meet. */
export const collisionKey = (name: string): string => name.replace(/\./g, '_');

export const isInternalTopic = (name: string): boolean => name === '__consumer_offsets' || name === '__transaction_state';
