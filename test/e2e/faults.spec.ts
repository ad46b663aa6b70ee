/**
 * The fast subset of the fault matrix, part of `npm test`; `npm run faults`
 * runs every case (test/faults/, docs/reliability.md).
 */
import {FAULT_CASES, declareFaultDays, faultMatrix} from '../faults/cases';

const FAST = FAULT_CASES.filter(c => c.fast);
declareFaultDays(FAST);

describe('fault matrix, fast cases (npm test)', () => {
  faultMatrix(FAST);
});
