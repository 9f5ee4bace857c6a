//! Reservations, the rules for making them, and how member events change the member list.
//! No I/O, no HTTP.

mod member_list;
mod parked;
mod reservation;

pub use member_list::{KnownMember, MemberChange, MemberStatus, decide};
pub use parked::{ParkedEvent, ParkedStatus};
pub use reservation::{
    CancellationReason, NewReservation, Reservation, ReservationStatus, ValidationError,
};
