import { type RequestStore, type StoredRequest, toPublicRequest } from '../db/request-store.js';
import type { ClockPort } from '../ports/clock.js';
import type { PrivacyRequest } from '../request.js';
import type { EngineEventName, EngineEvents } from './events.js';
import type { Logger } from './logger.js';

/** Rows read per poll; a full page is followed at once by the next, without the overlap. */
const PAGE = 500;
/** How long a request's last delivered state is remembered after it last changed. */
const REMEMBER_MS = 60 * 60 * 1000;
const MAX_REMEMBERED = 100_000;

interface Delivered {
  sig: string;
  status: PrivacyRequest['status'];
  done: number;
  finished: boolean;
  at: number;
}

/**
 * Makes `engine.on(...)` see what other processes do: every `pollMs` it reads the requests whose `updated_at` moved
 * since the last poll and emits the events their change stands for. Each request's last delivered state is kept, and
 * the process's own events go through the same check, so a change is announced once whichever side saw it first.
 * A poll re-reads a short overlap before its cursor: writers' clocks may lag a little, and rows committed late
 * with an earlier `updated_at` are still seen.
 */
export class RequestEventPoller {
  private readonly delivered = new Map<string, Delivered>();
  private cursor: number | null = null;
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private readonly overlapMs: number;

  constructor(
    private readonly store: RequestStore,
    private readonly events: EngineEvents,
    private readonly clock: ClockPort,
    private readonly logger: Logger,
    private readonly pollMs: number,
  ) {
    this.overlapMs = Math.max(2 * pollMs, 2000);
  }

  /** Starts from the table as it is now: only later changes are announced. */
  async start(): Promise<void> {
    this.cursor = (await this.store.lastChange()) ?? this.clock.now().getTime();
    for (const row of await this.store.listChangedSince(this.cursor - this.overlapMs, PAGE)) this.remember(this.sig('baseline', this.toPublic(row)), this.toPublic(row));
    this.timer = setInterval(() => {
      this.polling ??= this.poll()
        .catch((error: unknown) => this.logger.warn('request event poll failed', { error: error instanceof Error ? error.name : typeof error }))
        .finally(() => (this.polling = undefined));
    }, this.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.polling;
  }

  /** The filter every emit goes through: false when this very change was already delivered. */
  accept(event: EngineEventName, request: PrivacyRequest): boolean {
    const sig = this.sig(event, request);
    if (this.delivered.get(request.id)?.sig === sig) return false;
    this.remember(sig, request);
    return true;
  }

  /** One poll: the pages changed since the cursor, each row's change turned into events. */
  async poll(): Promise<void> {
    if (this.cursor === null) return;
    let since = this.cursor - this.overlapMs;
    for (;;) {
      const rows = await this.store.listChangedSince(since, PAGE);
      for (const row of rows) this.announce(row);
      const last = rows[rows.length - 1];
      if (last) this.cursor = Math.max(this.cursor, last.updatedAt);
      if (rows.length < PAGE) break;
      since = this.cursor;
    }
    this.prune();
  }

  private announce(row: StoredRequest): void {
    const request = this.toPublic(row);
    const prev = this.delivered.get(row.id);
    const terminal = row.status === 'completed' || row.status === 'failed' || (row.status === 'cancelled' && row.finishedAt !== null);
    const events: EngineEventName[] = [];
    if (!prev) {
      if (row.status === 'queued') events.push('queued');
      else if (row.startedAt !== null) events.push('started');
    } else {
      if (row.status === 'queued' && prev.status !== 'queued') events.push('queued');
      if (row.status !== 'queued' && prev.status === 'queued' && row.startedAt !== null) events.push('started');
      if (row.status === 'running' && request.progress.done !== prev.done) events.push('progress');
    }
    if (terminal && !(prev && prev.status === row.status && prev.finished)) events.push(row.status as 'completed' | 'failed' | 'cancelled');
    for (const event of events) this.events.emit(event, { request });
  }

  private toPublic(row: StoredRequest): PrivacyRequest {
    return toPublicRequest(row, this.clock.now().getTime());
  }

  private sig(event: string, request: PrivacyRequest): string {
    return `${event}|${request.status}|${request.progress.done}|${request.finishedAt ?? ''}`;
  }

  private remember(sig: string, request: PrivacyRequest): void {
    this.delivered.delete(request.id);
    this.delivered.set(request.id, { sig, status: request.status, done: request.progress.done, finished: request.finishedAt !== undefined, at: Date.now() });
  }

  /** Forgets requests unchanged for an hour (the map is in insertion order: oldest change first). */
  private prune(): void {
    const cutoff = Date.now() - REMEMBER_MS;
    for (const [id, entry] of this.delivered) {
      if (entry.at >= cutoff && this.delivered.size <= MAX_REMEMBERED) break;
      this.delivered.delete(id);
    }
  }
}
