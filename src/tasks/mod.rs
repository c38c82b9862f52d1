//! Synthetic long-dependency tasks (issue 3).
