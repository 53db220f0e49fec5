import { describe, expect, it } from 'vitest';
import { createMemoryAudit } from '../../src/index.js';
import { auditConformance } from '../../src/testing/index.js';

auditConformance(
  'memory',
  () => {
    const port = createMemoryAudit();
    return { port, tamper: { read: async (tenantId) => port.raw.read(tenantId), write: async (tenantId, records) => port.raw.write(tenantId, records) } };
  },
  { describe, it, expect },
);
