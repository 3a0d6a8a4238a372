//! Tells cargo to rebuild when `migrations/` changes: `sqlx::migrate!` embeds that folder at compile
//! time, but cargo does not know the macro read it, so without this a new migration file would be
//! left out of an incremental build.
//!
//! (The message templates are not compiled in: they are read from `TEMPLATES_DIR` at start-up.)

fn main() {
    println!("cargo::rerun-if-changed=migrations");
}
