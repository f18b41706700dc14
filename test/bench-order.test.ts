import { roundOrder, roundsPerCycle } from '../bench/harness/order';

/** The bench's round orders (bench/harness/order.ts): no side may keep a place of its own. */
describe('bench round orders', () => {
  const cycleOf = (sides: number) => Array.from({ length: roundsPerCycle(sides) }, (_, round) => roundOrder(sides, round));

  it.each([2, 3])('runs every one of %i sides once per round', (sides) => {
    for (const order of cycleOf(sides)) expect([...order].sort()).toEqual(Array.from({ length: sides }, (_, i) => i));
  });

  it.each([2, 3])('gives each of %i sides each place equally often over a cycle', (sides) => {
    const cycle = cycleOf(sides);
    for (let side = 0; side < sides; side++) {
      for (let place = 0; place < sides; place++) {
        expect(cycle.filter((order) => order[place] === side)).toHaveLength(cycle.length / sides);
      }
    }
  });

  it.each([2, 3])('runs each of %i sides before each other as often as after it', (sides) => {
    const cycle = cycleOf(sides);
    for (let a = 0; a < sides; a++) {
      for (let b = 0; b < sides; b++) {
        if (a === b) continue;
        const before = cycle.filter((order) => order.indexOf(a) < order.indexOf(b)).length;
        expect(before).toBe(cycle.length / 2);
      }
    }
  });

  it('never runs one of three sides twice in a row across rounds, the cycle wrapping included', () => {
    const rounds = Array.from({ length: 3 * roundsPerCycle(3) }, (_, round) => roundOrder(3, round));
    for (let i = 1; i < rounds.length; i++) expect(rounds[i]?.[0]).not.toBe(rounds[i - 1]?.[2]);
  });

  it('repeats the cycle', () => {
    const length = roundsPerCycle(3);
    for (let round = 0; round < length; round++) expect(roundOrder(3, round + length)).toEqual(roundOrder(3, round));
  });

  it('hands out copies: a caller changing an order does not change the next cycle', () => {
    roundOrder(3, 0).reverse();
    expect(roundOrder(3, roundsPerCycle(3))).toEqual([0, 1, 2]);
  });
});
