/**
 * `npm run faults`: every case of the fault matrix on one fault stack
 * (docs/reliability.md). `npm run faults -- -g <case id>` runs one.
 */
import {FAULT_CASES, declareFaultDays, faultMatrix} from './cases';

declareFaultDays(FAULT_CASES);

describe('fault matrix (npm run faults)', () => {
  faultMatrix(FAULT_CASES);
});
