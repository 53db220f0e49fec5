import { sealRecord } from '../audit/chain.js';
import { type AuditTrail, createAuditTrail } from '../audit/audit-trail.js';
import type { AuditPort, AuditRecord } from '../ports/audit.js';
import type { ClockPort } from '../ports/clock.js';
import type { ConformanceRunner } from './storage-conformance.js';

/** Raw access to an adapter's stored records, bypassing the chain: lets the suite play the attacker. */
export interface AuditTamper {
  /** The tenant's records as stored, in storage order (ordered by seq). */
  read(tenantId: string): Promise<AuditRecord[]>;
  /** Replaces the tenant's stored records with `records`, in that order, leaving the head pointer alone. */
  write(tenantId: string, records: AuditRecord[]): Promise<void>;
}

export interface AuditUnderTest {
  port: AuditPort;
  /** When given, the tamper tests (edit, delete, reorder, insert, truncate) run too. */
  tamper?: AuditTamper;
}

class TestClock implements ClockPort {
  private time = Date.parse('2026-01-01T00:00:00.000Z');
  now(): Date {
    return new Date(this.time);
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

async function fill(trail: AuditTrail, clock: TestClock, tenantId: string, count: number): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  for (let i = 0; i < count; i++) {
    records.push(await trail.record({ tenantId, actorId: `admin-${i % 3}`, action: 'request.submitted', requestId: `req-${i}`, details: { type: 'export', index: i } }));
    clock.advance(60_000);
  }
  return records;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text;
}

const shape = (problems: { kind: string; seq: number; toSeq?: number; originalSeq?: number }[]) =>
  problems.map(({ kind, seq, toSeq, originalSeq }) => ({ kind, seq, ...(toSeq === undefined ? {} : { toSeq }), ...(originalSeq === undefined ? {} : { originalSeq }) }));

/**
 * Every AuditPort must pass this, driven through the hash-chained trail: ordered, gapless chains per tenant under
 * concurrent writers, exact round trips, pruning with a checkpoint, export; and, given raw access, detection of
 * edited, deleted, reordered, inserted and cut-off entries. `create` is called once per test; give each call an
 * empty trail.
 */
export function auditConformance(name: string, create: () => Promise<AuditUnderTest> | AuditUnderTest, { describe, it, expect }: ConformanceRunner): void {
  const setup = async () => {
    const subject = await create();
    const clock = new TestClock();
    return { ...subject, clock, trail: createAuditTrail({ port: subject.port, clock }) };
  };

  describe(`AuditPort conformance: ${name}`, () => {
    it('numbers and links entries per tenant, and a clean trail verifies', async () => {
      const { port, trail, clock } = await setup();
      const a = await fill(trail, clock, 'tenant-a', 5);
      const b = await fill(trail, clock, 'tenant-b', 2);
      expect(a.map((record) => record.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(b.map((record) => record.seq)).toEqual([1, 2]);
      expect(a.slice(1).every((record, i) => record.prevHash === a[i].hash)).toBe(true);
      expect(await port.head('tenant-a')).toEqual({ seq: 5, hash: a[4].hash });
      expect(await port.head('tenant-none')).toBe(null);
      expect(await trail.verify({ tenantId: 'tenant-a' })).toEqual({ ok: true, tenantId: 'tenant-a', checked: 5, problems: [] });
      expect((await trail.verify({ tenantId: 'tenant-b' })).ok).toBe(true);
      expect(await trail.verify({ tenantId: 'tenant-none' })).toEqual({ ok: true, tenantId: 'tenant-none', checked: 0, problems: [] });
      await port.close?.();
    });

    it('lists in seq order by pages', async () => {
      const { port, trail, clock } = await setup();
      await fill(trail, clock, 't', 7);
      expect((await port.list('t', { limit: 3 })).map((record) => record.seq)).toEqual([1, 2, 3]);
      expect((await port.list('t', { afterSeq: 3, limit: 3 })).map((record) => record.seq)).toEqual([4, 5, 6]);
      expect((await port.list('t', { afterSeq: 6, limit: 3 })).map((record) => record.seq)).toEqual([7]);
      await port.close?.();
    });

    it('round-trips every field exactly', async () => {
      const { port, trail } = await setup();
      const written = await trail.record({
        tenantId: 'org-1',
        actorId: 'admin-7',
        action: 'download.refused',
        requestId: 'req-42',
        subject: { type: 'Contact', id: '42', keyedHash: 'ab'.repeat(32) },
        details: { reason: 'FORBIDDEN', counts: { activities: 3, notes: 0 }, ratio: 0.25, flags: [true, null, 'ü€'] },
      });
      const [read] = await port.list('org-1', { limit: 10 });
      expect(read).toEqual(written);
      expect(read.at.getTime()).toBe(written.at.getTime());
      expect((await trail.verify({ tenantId: 'org-1' })).ok).toBe(true);
      await port.close?.();
    });

    it('keeps one gapless chain under 40 concurrent writers on two tenants', async () => {
      const { port, trail } = await setup();
      await Promise.all(Array.from({ length: 40 }, (_, i) => trail.record({ tenantId: i % 2 ? 'odd' : 'even', actorId: `worker-${i}`, action: 'request.started', details: { i } })));
      for (const tenantId of ['odd', 'even']) {
        const records = await port.list(tenantId, { limit: 100 });
        expect(records.map((record) => record.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect(await trail.verify({ tenantId })).toEqual({ ok: true, tenantId, checked: 20, problems: [] });
      }
      await port.close?.();
    });

    it('prunes old entries behind a checkpoint entry, and the trail still verifies', async () => {
      const { port, trail, clock } = await setup();
      const records = await fill(trail, clock, 't', 6);
      const outcome = await trail.prune({ tenantId: 't', olderThan: records[4].at, actorId: 'dpo' });
      expect(outcome.pruned).toBe(4);
      expect(outcome.checkpoint?.seq).toBe(7);
      expect(outcome.checkpoint?.details).toEqual({ throughSeq: 4, lastPrunedHash: records[3].hash, pruned: 4, olderThan: records[4].at.toISOString() });
      expect((await port.list('t', { limit: 100 })).map((record) => record.seq)).toEqual([5, 6, 7]);
      expect(await trail.verify({ tenantId: 't' })).toEqual({ ok: true, tenantId: 't', checked: 3, problems: [] });

      clock.advance(3_600_000);
      await fill(trail, clock, 't', 2);
      expect((await trail.prune({ tenantId: 't', olderThan: new Date(clock.now().getTime() + 1), actorId: 'dpo' })).pruned).toBe(9 - 4);
      expect((await port.list('t', { limit: 100 })).map((record) => record.seq)).toEqual([10]);
      expect((await trail.verify({ tenantId: 't' })).ok).toBe(true);
      expect((await trail.prune({ tenantId: 't', olderThan: new Date('2000-01-01'), actorId: 'dpo' })).pruned).toBe(0);
      await port.close?.();
    });

    it('exports a time range as JSON and as formula-safe CSV', async () => {
      const { port, trail, clock } = await setup();
      const records = await fill(trail, clock, 't', 4);
      await trail.record({ tenantId: 't', actorId: '=HYPERLINK("http://evil.example","x")', action: 'download.served', details: { note: '+1' } });
      const json = JSON.parse(await readAll(trail.export({ tenantId: 't', from: records[1].at, to: records[3].at, format: 'json' })));
      expect(json.map((entry: { seq: number }) => entry.seq)).toEqual([2, 3]);
      expect(json[0]).toEqual({ ...records[1], at: records[1].at.toISOString() });
      expect(JSON.parse(await readAll(trail.export({ tenantId: 'empty', format: 'json' })))).toEqual([]);

      const csv = (await readAll(trail.export({ tenantId: 't', format: 'csv' }))).trim().split('\n');
      expect(csv[0]).toBe('seq,at,tenant_id,actor_id,action,request_id,subject_type,subject_id,subject_keyed_hash,details,prev_hash,hash');
      expect(csv.length).toBe(6);
      expect(csv[5].includes(`"'=HYPERLINK(""http://evil.example"",""x"")"`)).toBe(true);
      expect(csv[5].startsWith('5,')).toBe(true);
      await port.close?.();
    });

    it('refuses entries with reserved actions or invalid fields with VALIDATION errors', async () => {
      const { port, trail } = await setup();
      const codeOf = (promise: Promise<unknown>) => promise.then(() => undefined, (error) => error?.code);
      expect(await codeOf(trail.record({ tenantId: 't', actorId: 'a', action: 'audit.pruned' }))).toBe('VALIDATION');
      expect(await codeOf(trail.record({ tenantId: 't', actorId: '', action: 'request.started' }))).toBe('VALIDATION');
      expect(await codeOf(trail.record({ tenantId: 't', actorId: 'a', action: 'Request Started' }))).toBe('VALIDATION');
      expect(await codeOf(trail.record({ tenantId: 't', actorId: 'a', action: 'x', subject: { type: 'Contact', id: '1', keyedHash: 'alice@example.com' } }))).toBe('VALIDATION');
      expect((await port.list('t', { limit: 10 })).length).toBe(0);
      await port.close?.();
    });

    it('refuses a sealed record that does not follow the head, leaving the chain as it was', async () => {
      const { port, trail, clock } = await setup();
      const [first] = await fill(trail, clock, 't', 2);
      const stale = { seq: first.seq, hash: first.hash };
      const code = await port
        .append('t', () => sealRecord(stale, { at: clock.now(), tenantId: 't', actorId: 'a', action: 'request.started', details: {} }))
        .then(() => undefined, (error) => error?.code);
      expect(code).toBe('VALIDATION');
      expect((await port.list('t', { limit: 10 })).map((record) => record.seq)).toEqual([1, 2]);
      expect((await trail.verify({ tenantId: 't' })).ok).toBe(true);
      await port.close?.();
    });

    describe(`tamper detection: ${name}`, () => {
      const tampered = async (change: (records: AuditRecord[]) => AuditRecord[]) => {
        const { port, tamper, trail, clock } = await setup();
        if (!tamper) return undefined;
        await fill(trail, clock, 't', 6);
        await tamper.write('t', change(await tamper.read('t')));
        const result = await trail.verify({ tenantId: 't' });
        await port.close?.();
        return result;
      };

      it('names an edited entry', async () => {
        const result = await tampered((records) => records.map((record) => (record.seq === 3 ? { ...record, actorId: 'someone-else' } : record)));
        if (result) expect(shape(result.problems)).toEqual([{ kind: 'edited', seq: 3 }]);
      });

      it('names an entry rewritten with a recomputed hash', async () => {
        const result = await tampered((records) =>
          records.map((record) => (record.seq === 3 ? sealRecord({ seq: 2, hash: records[1].hash }, { ...record, actorId: 'someone-else' }) : record)),
        );
        if (result) expect(shape(result.problems)).toEqual([{ kind: 'edited', seq: 3 }]);
      });

      it('names a deleted entry', async () => {
        const result = await tampered((records) => records.filter((record) => record.seq !== 3));
        if (result) expect(shape(result.problems)).toEqual([{ kind: 'deleted', seq: 3, toSeq: 3 }]);
      });

      it('names two reordered entries', async () => {
        const result = await tampered((records) => {
          const [third, fourth] = [records[2], records[3]];
          return [...records.slice(0, 2), { ...fourth, seq: 3 }, { ...third, seq: 4 }, ...records.slice(4)];
        });
        if (result)
          expect(shape(result.problems)).toEqual([
            { kind: 'reordered', seq: 3, originalSeq: 4 },
            { kind: 'reordered', seq: 4, originalSeq: 3 },
          ]);
      });

      it('names two entries swapped further apart, and no entry between them', async () => {
        const result = await tampered((records) => {
          const moved = records.map((record) => ({ ...record }));
          [moved[1], moved[4]] = [{ ...records[4], seq: 2 }, { ...records[1], seq: 5 }];
          return moved;
        });
        if (result)
          expect(shape(result.problems)).toEqual([
            { kind: 'reordered', seq: 2, originalSeq: 5 },
            { kind: 'reordered', seq: 5, originalSeq: 2 },
          ]);
      });

      it('names an inserted entry, even one forged with a valid hash, before or after the genuine one', async () => {
        for (const before of [false, true]) {
          const result = await tampered((records) => {
            const second = records[1];
            const forged = sealRecord({ seq: second.seq, hash: second.hash }, { at: records[2].at, tenantId: 't', actorId: 'intruder', action: 'download.served', details: {} });
            return before ? [...records.slice(0, 2), forged, ...records.slice(2)] : [...records.slice(0, 3), forged, ...records.slice(3)];
          });
          if (result) expect(shape(result.problems)).toEqual([{ kind: 'inserted', seq: 3 }]);
        }
      });

      it('names entries cut off the tail, using the head pointer', async () => {
        const result = await tampered((records) => records.slice(0, 4));
        if (result) expect(shape(result.problems)).toEqual([{ kind: 'truncated', seq: 5, toSeq: 6 }]);
      });

      it('names an entry appended outside the trail', async () => {
        const result = await tampered((records) => {
          const last = records[records.length - 1];
          return [...records, sealRecord({ seq: last.seq, hash: last.hash }, { at: last.at, tenantId: 't', actorId: 'intruder', action: 'request.completed', details: {} })];
        });
        if (result) expect(shape(result.problems)).toEqual([{ kind: 'inserted', seq: 7 }]);
      });

      it('refuses to prune a trail that fails verification', async () => {
        const { port, tamper, trail, clock } = await setup();
        if (!tamper) return;
        await fill(trail, clock, 't', 4);
        await tamper.write('t', (await tamper.read('t')).filter((record) => record.seq !== 2));
        const code = await trail.prune({ tenantId: 't', olderThan: clock.now(), actorId: 'dpo' }).then(() => undefined, (error) => error?.code);
        expect(code).toBe('INTEGRITY');
        expect((await port.list('t', { limit: 10 })).length).toBe(3);
        await port.close?.();
      });
    });
  });
}
