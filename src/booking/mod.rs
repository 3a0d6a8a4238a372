//! The booking domain: the salon's catalog, availability, the life of an appointment and of its
//! deposit. Pure (the one
//! exception is reading the catalog file in `catalog::load`);
//! the store persists what it decides, and the database guards the one invariant that must never
//! break (no double booking) on its own as well.

pub mod appointment;
pub mod availability;
pub mod catalog;
pub mod payment;
