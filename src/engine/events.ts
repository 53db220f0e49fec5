import type { PrivacyRequest } from '../request.js';
import type { Logger } from './logger.js';

/**
 * What a request went through, as the engine that runs it sees it: `queued` in the process that asked for it, the
 * others in the process whose worker runs it. Every payload is the request's public, PII-free view.
 */
export interface EngineEventMap {
  queued: { request: PrivacyRequest };
  started: { request: PrivacyRequest };
  /** After a batch: the request's progress as committed. */
  progress: { request: PrivacyRequest };
  completed: { request: PrivacyRequest };
  failed: { request: PrivacyRequest };
  cancelled: { request: PrivacyRequest };
}

export type EngineEventName = keyof EngineEventMap;
export type EngineEventListener<E extends EngineEventName> = (payload: EngineEventMap[E]) => void | Promise<void>;

export const ENGINE_EVENTS: readonly EngineEventName[] = ['queued', 'started', 'progress', 'completed', 'failed', 'cancelled'];

/** A small typed emitter: a listener that throws or rejects is logged and never disturbs the request. */
export class EngineEvents {
  private readonly listeners = new Map<EngineEventName, Set<EngineEventListener<never>>>();
  /** Set by the cross-process poller: a change it or this process already announced is not announced again. */
  filter?: (event: EngineEventName, request: PrivacyRequest) => boolean;

  constructor(private readonly logger: Logger) {}

  on<E extends EngineEventName>(event: E, listener: EngineEventListener<E>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as EngineEventListener<never>);
    return () => this.off(event, listener);
  }

  off<E extends EngineEventName>(event: E, listener: EngineEventListener<E>): void {
    this.listeners.get(event)?.delete(listener as EngineEventListener<never>);
  }

  emit<E extends EngineEventName>(event: E, payload: EngineEventMap[E]): void {
    if (this.filter && !this.filter(event, payload.request)) return;
    for (const listener of this.listeners.get(event) ?? []) {
      const report = (error: unknown) =>
        this.logger.warn('privacy-engine event listener failed', { event, requestId: payload.request.id, error: error instanceof Error ? error.name : typeof error });
      try {
        const result = (listener as EngineEventListener<E>)(payload);
        if (result && typeof (result as Promise<void>).then === 'function') (result as Promise<void>).catch(report);
      } catch (error) {
        report(error);
      }
    }
  }
}
