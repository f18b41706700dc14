/**
 * The order in which the sides of a scenario run in each round. Where a side runs in a round
 * changes what it measures on a shared machine: with the former order for three sides (ABC, then
 * CBA, ...) the middle one always ran second and the other two each ran twice back to back at
 * every round boundary, and in paired A/B runs the third server came out ahead of the second in
 * all five, whichever build it was (README "Noise"). So three sides go through all six orders:
 * over a cycle each holds each place twice and runs before each other side as often as after it,
 * and a round never starts with the side that ended the round before. Other counts alternate
 * (AB, BA: two sides are symmetric that way).
 *
 * @returns the sides' indexes in the order they run in `round` (0-based).
 */
export function roundOrder(sides: number, round: number): number[] {
  const natural = Array.from({ length: sides }, (_, i) => i);
  if (sides === 3) return [...THREE[round % THREE.length]];
  return round % 2 === 0 ? natural : natural.reverse();
}

/** Rounds in one balanced cycle: a multiple of it gives every side every place equally often. */
export function roundsPerCycle(sides: number): number {
  return sides === 3 ? THREE.length : 2;
}

/** The six orders of three sides, chained (cyclically too) so no side runs twice in a row. */
const THREE: readonly (readonly number[])[] = [
  [0, 1, 2],
  [0, 2, 1],
  [2, 0, 1],
  [2, 1, 0],
  [1, 2, 0],
  [1, 0, 2],
];
