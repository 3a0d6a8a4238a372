//! The accepted state names of each flow (`flows/<name>.lock`, written by `salonbot flows check
//! --accept`), and the rule that keeps conversations from being stranded: a state removed or renamed
//! since the accepted version needs a version bump and a migration entry.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::flow::{Flow, FlowError};

/// What was accepted for a flow: its version and the names of its states then.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// The accepted `flow.version`.
    pub version: u32,
    /// The accepted state names.
    pub states: Vec<String>,
}

impl Lock {
    /// What accepting `flow` records.
    pub fn of(flow: &Flow) -> Self {
        Self {
            version: flow.version,
            states: flow.states.iter().map(|state| state.name.clone()).collect(),
        }
    }

    /// The lock file's text.
    pub fn to_toml(&self) -> String {
        let states: String = self
            .states
            .iter()
            .map(|name| format!("  {name:?},\n"))
            .collect();
        format!(
            "# Written by `salonbot flows check --accept`: the states of the accepted version.\n\
             # Do not edit by hand; bump `version` and add migrations in the flow instead.\n\
             version = {}\nstates = [\n{states}]\n",
            self.version
        )
    }
}

/// `<dir>/<name>.lock`.
pub fn path_for(dir: &Path, flow_name: &str) -> PathBuf {
    dir.join(format!("{flow_name}.lock"))
}

/// The lock at `path`; `None` when there is none yet (nothing accepted).
pub fn read(path: &Path) -> Result<Option<Lock>, FlowError> {
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(FlowError::whole(&file, format!("cannot read: {error}"))),
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|error| FlowError::whole(&file, error.message().trim().to_owned()))
}

/// Writes the lock of `flow` into `dir`.
pub fn accept(dir: &Path, flow: &Flow) -> std::io::Result<PathBuf> {
    let path = path_for(dir, &flow.name);
    std::fs::write(&path, Lock::of(flow).to_toml())?;
    Ok(path)
}

/// The version rule against what was accepted: same version, same states (added ones are fine);
/// a higher version, a migration for every accepted state gone; never a lower version.
pub fn check(flow: &Flow, accepted: &Lock) -> Vec<FlowError> {
    let line = flow.version_line;
    if flow.version < accepted.version {
        let message = format!(
            "version {} is lower than the accepted version {}",
            flow.version, accepted.version
        );
        return vec![flow.error(line, message)];
    }
    let migrations: BTreeMap<_, _> = flow
        .migrations
        .iter()
        .map(|migration| (migration.from.as_str(), migration))
        .collect();
    let gone = accepted
        .states
        .iter()
        .filter(|name| flow.state(name).is_none());
    if flow.version == accepted.version {
        return gone
            .map(|name| {
                let message = format!(
                    "state {name:?} of accepted version {} was removed or renamed: bump `version` \
                     and add `{name} = \"<state>\"` under [flow.migrations]",
                    accepted.version
                );
                flow.error(line, message)
            })
            .collect();
    }
    gone.filter(|name| !migrations.contains_key(name.as_str()))
        .map(|name| {
            let message = format!(
                "state {name:?} of accepted version {} no longer exists: add `{name} = \
                 \"<state>\"` under [flow.migrations]",
                accepted.version
            );
            flow.error(line, message)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::flow::parse;

    fn flow(version: u32, migrations: &str, states: &[&str]) -> Flow {
        let mut text = format!(
            "[flow]\nname = \"t\"\nversion = {version}\nentry = \"{}\"\n\n[flow.migrations]\n{migrations}\n",
            states[0]
        );
        for name in states {
            text.push_str(&format!("\n[states.{name}]\nsay = \"x\"\n"));
        }
        parse("flows/t.toml", &text).unwrap()
    }

    fn accepted(version: u32, states: &[&str]) -> Lock {
        Lock {
            version,
            states: states.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn same_version_keeps_every_accepted_state() {
        let lock = accepted(3, &["a", "b"]);
        assert_eq!(check(&flow(3, "", &["a", "b", "c"]), &lock), []);
        let errors = check(&flow(3, "", &["a", "c"]), &lock);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].line, Some(3));
        assert!(
            errors[0]
                .message
                .contains("\"b\" of accepted version 3 was removed")
        );
    }

    #[test]
    fn a_higher_version_needs_a_migration_for_each_state_gone() {
        let lock = accepted(3, &["a", "b"]);
        let errors = check(&flow(4, "", &["a", "c"]), &lock);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0]
                .to_string()
                .starts_with("flows/t.toml:3: state \"b\"")
        );
        assert_eq!(check(&flow(4, "b = \"c\"", &["a", "c"]), &lock), []);
    }

    #[test]
    fn a_lower_version_is_refused() {
        let errors = check(&flow(2, "", &["a", "b"]), &accepted(3, &["a", "b"]));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0]
                .message
                .contains("lower than the accepted version 3")
        );
    }

    #[test]
    fn the_written_lock_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let flow = flow(5, "", &["a", "b"]);
        let path = accept(dir.path(), &flow).unwrap();
        assert_eq!(path, dir.path().join("t.lock"));
        assert_eq!(read(&path).unwrap(), Some(Lock::of(&flow)));
        assert_eq!(read(&dir.path().join("none.lock")).unwrap(), None);
    }
}
