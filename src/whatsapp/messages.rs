//! Outbound message builders (Cloud API `/messages` request bodies).
