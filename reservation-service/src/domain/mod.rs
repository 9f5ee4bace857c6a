//! Reservations, the rules for making them, and how member events change the member list.
//! No I/O, no HTTP.

mod batch;
mod bounds;
mod change;
pub mod dead_letter;
mod delivery;
mod member_list;
mod parked;
mod readiness;
mod reason;
mod reservation;
mod validation;

pub use batch::{Applied, Decision, Knowledge, Outcome, decide_batch};
pub use bounds::{MAX_BIND_PARAMETERS, MAX_EVENTS_PER_TRANSACTION, transactions};
pub use change::Change;
pub use dead_letter::{DeadLetterCopy, dead_letter_copy, without_body};
pub use delivery::{Arrival, Delivery, Rejection, member_ids};
pub use member_list::{KnownMember, MemberChange, MemberStatus, decide};
pub use parked::{Failure, ParkedEvent, ParkedStatus};
pub use readiness::{ConsumerObservation, NotReady, assess};
pub use reason::{MAX_REASON_CHARS, readable_reason};
pub use reservation::{CancellationReason, NewReservation, Reservation, ReservationStatus};
pub use validation::ValidationError;
