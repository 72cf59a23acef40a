//! The rollout state machine: `(state, event) -> (state, actions)`.
