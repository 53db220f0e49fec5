import { describe, expect, it } from 'vitest';
import { createMemoryStorage } from '../../src/index.js';
import { storageConformance } from '../../src/testing/index.js';

storageConformance('memory', () => createMemoryStorage(), { describe, it, expect });
