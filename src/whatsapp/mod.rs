//! WhatsApp Cloud API: wire types of what Meta sends us (and, from the outbound issue on, the client that
//! sends replies).

pub mod webhook;
