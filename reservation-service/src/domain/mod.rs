//! Reservations, the rules for making them, and how member events change the member list.
//! No I/O, no HTTP.

mod batch;
mod change;
mod delivery;
mod member_list;
mod parked;
mod readiness;
mod reservation;
mod validation;

pub use batch::{Applied, Decision, Knowledge, Outcome, decide_batch};
pub use change::Change;
pub use delivery::{Arrival, Delivery, Rejection, member_ids};
pub use member_list::{KnownMember, MemberChange, MemberStatus, decide};
pub use parked::{Failure, ParkedEvent, ParkedStatus};
pub use readiness::{ConsumerObservation, NotReady, assess};
pub use reservation::{CancellationReason, NewReservation, Reservation, ReservationStatus};
pub use validation::ValidationError;
