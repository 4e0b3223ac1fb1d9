import { expect, test } from 'vitest';
import { placeholder } from '../../src/cli/main.ts';
test('smoke', () => { expect(placeholder).toBe(1); });
