//! Why events: the same member deletion done three ways, measured side by side on the same
//! database backend and the same load. Comparison code, not product: nothing in member-service or
//! reservation-service depends on it.
//!
//! 1. **Events**, the product unchanged (the benchmark's harness starts it).
//! 2. **Direct call**: member-service's DELETE has reservation-service cancel the member's
//!    reservations over HTTP first, and refuses the deletion (503) when that fails.
//! 3. **Polling**: reservation-service asks member-service every interval which members were
//!    deleted since its cursor, and cancels their reservations.
//!
//! - [`options`]: command line and the plan it resolves to.
//! - [`domain`]: the alternatives' rules (cursor, what a page still has to apply, the call's
//!   verdict), pure and unit-tested.
//! - [`db`]: their SQL on the product's schemas; [`seed`]: their set-up.
//! - [`member_side`], [`reservation_side`]: the two services as the alternatives have them.
//! - [`ways`]: each way as a running system; [`load`]: the deletions; [`run`]: the phases.
//! - [`measure`], [`workload`]: the figures; [`report`], [`plot`]: table, CSV and picture.

pub mod db;
pub mod domain;
pub mod load;
pub mod measure;
pub mod member_side;
pub mod options;
pub mod plot;
mod problem;
pub mod report;
pub mod reservation_side;
pub mod run;
pub mod seed;
pub mod ways;
pub mod workload;

pub use options::{Options, Plan};
