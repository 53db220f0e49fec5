import type { QueuePort } from '../../src/index.js';

/** A queue that never runs anything: an engine on it only asks for requests, which stay queued for another engine or process. */
export const idleQueue: QueuePort = { name: 'idle', start: async () => undefined, enqueue: async () => undefined, drain: async () => undefined, close: async () => undefined };
