//! Whole percentages of weights in basis points, for routers that take integers out of 100:
//! over random splits of 100%, they sum to exactly 100, each is within a point of its weight,
//! and a revision with 0% gets 0.

use bellwether_core::spec::{Weight, whole_percents};
use proptest::prelude::*;

/// A random split of 10,000 basis points into up to five weights, zeros included.
fn split() -> impl Strategy<Value = Vec<Weight>> {
    proptest::collection::vec(0u16..=10_000, 0..5).prop_map(|mut cuts| {
        cuts.sort_unstable();
        let mut weights = Vec::with_capacity(cuts.len() + 1);
        let mut last = 0;
        for cut in cuts.into_iter().chain([10_000]) {
            weights.push(Weight::from_basis_points(cut - last).expect("at most 100%"));
            last = cut;
        }
        weights
    })
}

proptest! {
    #[test]
    fn whole_percents_sum_to_exactly_100(weights in split()) {
        let percents = whole_percents(&weights);
        prop_assert_eq!(percents.len(), weights.len());
        prop_assert_eq!(percents.iter().map(|&p| u32::from(p)).sum::<u32>(), 100);
        for (weight, percent) in weights.iter().zip(&percents) {
            let bp = i32::from(weight.basis_points());
            prop_assert!((i32::from(*percent) * 100 - bp).abs() < 100, "{weight} -> {percent}");
            if weight.is_zero() {
                prop_assert_eq!(*percent, 0);
            }
        }
    }
}

#[test]
fn equal_remainders_round_the_smaller_weight_up() {
    let bp = |b| Weight::from_basis_points(b).expect("a weight");
    assert_eq!(
        whole_percents(&[bp(3333), bp(3333), bp(3334)]),
        [33, 33, 34]
    );
    assert_eq!(whole_percents(&[bp(9950), bp(50)]), [99, 1]);
    assert_eq!(whole_percents(&[bp(10_000), bp(0)]), [100, 0]);
    assert_eq!(whole_percents(&[bp(5050), bp(4950)]), [50, 50]);
}
