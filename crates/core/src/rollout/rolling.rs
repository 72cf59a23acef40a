//! Rolling: replicas of the new revision replace the old in batches bounded by `maxSurge` and
//! `maxUnavailable`, each batch gated on readiness; traffic follows the ready replicas.

use super::{Action, Rollout, Traffic};
use crate::spec::{RollingSpec, Strategy, Weight};

impl Rollout {
    pub(super) fn advance_rolling(&mut self, out: &mut Vec<Action>) -> bool {
        let (Some(old), Some(new)) = (self.stable.clone(), self.target.clone()) else {
            return false;
        };
        let spec = match self.strategy() {
            Some(Strategy::Rolling(r)) => r.clone(),
            _ => RollingSpec::default(),
        };
        let replicas = self.replicas();
        let surge = if self.full_promotion {
            replicas
        } else {
            spec.max_surge.resolve(replicas, true)
        };
        let mut unavailable = spec.max_unavailable.resolve(replicas, false).min(replicas);
        if surge == 0 && unavailable == 0 {
            unavailable = 1; // Otherwise no replica could ever be replaced.
        }
        let (old_scale, new_scale) = (self.scale_of(old.number), self.scale_of(new.number));
        let new_ready = self.ready_of(new.number).min(new_scale);
        let old_ready = self.ready_of(old.number).min(old_scale);

        let want_new = replicas
            .min((replicas + surge).saturating_sub(old_scale))
            .max(new_scale);
        // Old replicas that are not ready serve nothing and can always go; ready ones only while
        // enough replicas stay available.
        let min_available = replicas - unavailable;
        let removable =
            (new_ready + old_ready).saturating_sub(min_available) + (old_scale - old_ready);
        let want_old = old_scale - removable.min(old_scale);

        self.set_scale(new.number, want_new, out);
        self.set_scale(old.number, want_old, out);

        let old_serving = self.ready_of(old.number).min(want_old);
        let serving = u64::from(new_ready) + u64::from(old_serving);
        if let Some(bp) = (u64::from(new_ready) * 10_000).checked_div(serving) {
            let bp = u16::try_from(bp).unwrap_or(10_000);
            let weight = Weight::from_basis_points(bp).unwrap_or(Weight::FULL);
            self.route(Traffic::split(old.number, new.number, weight), out);
        }
        self.reason = format!(
            "rolling: {new_ready}/{replicas} replicas of {new} ready, {want_old} of {old} left"
        );
        if new_ready >= replicas && want_old == 0 {
            self.finish(out);
            return true;
        }
        want_new != new_scale || want_old != old_scale
    }
}
