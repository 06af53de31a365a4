/** Small fast-check building blocks shared by the fuzzers. */
import fc from 'fast-check'

/**
 * `usual` about `usualWeight` times out of `usualWeight + 1`, one of `rare` otherwise. Shrinks
 * towards `usual`, so a counterexample keeps only the unusual choices it needs.
 */
export function mostly<T> (usual: T, rare: T[], usualWeight = 8): fc.Arbitrary<T> {
  return fc.oneof({ withCrossShrink: true },
    { weight: usualWeight, arbitrary: fc.constant(usual) },
    { weight: 1, arbitrary: fc.constantFrom(...rare) })
}
