//! The undo stack of one apply: what the run has done, or has sent to AWS without an answer, in
//! the order it happened. A rollback takes it newest first and undoes each entry with its
//! kind's code; nothing else records what a run made.
//!
//! An entry is pushed *before* its call whenever a lost answer could still have made something
//! (a role half-made, a launch that landed, a group or a distribution created unanswered): the
//! undo then finds it again by tag, name, path or comment. Entries of one kind pushed one after
//! the other are undone in one batch (one `TerminateInstances` for all of a run's launches).

use std::collections::HashSet;

/// One thing a rollback undoes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Undo {
    /// A network create was sent: the rollback deletes what carries the deployment's tags and
    /// did not exist before the run, innermost first.
    Network,
    /// A role create was sent (IAM may hold pieces of it whatever the answer).
    Role { address: String, name: String },
    /// A secret was stored by this run (or its put's answer was lost).
    Secret { address: String, parameter: String },
    /// A security group create was sent; `id` once AWS answered.
    Group { address: String, id: Option<String> },
    /// Old instances stopped so that their kept volumes could move: started again.
    Stopped { instances: Vec<(String, String)> },
    /// Old (spot) instances terminated so that their kept volumes could move: cannot be undone,
    /// reported as left.
    Terminated { instances: Vec<(String, String)> },
    /// A kept volume detached from an old instance: attached back to it.
    Detached(Detached),
    /// A launch was sent at `address`; `id` once AWS answered.
    Launch { address: String, id: Option<String> },
    /// A load balancer create was sent (found again by name).
    LoadBalancer,
    /// A distribution create was sent (found again by its comment).
    Distribution,
}

/// A kept volume this run detached from an old instance to move it to a replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Detached {
    pub(crate) address: String,
    pub(crate) volume: String,
    /// The instance it was attached to (and goes back to on undo).
    pub(crate) from: String,
    pub(crate) device: String,
}

/// Which code undoes an entry: entries of one class in a row are one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UndoKind {
    Network,
    Role,
    Secret,
    Group,
    /// Stopped, terminated and detached for a move: undone together, volumes first.
    Move,
    Launch,
    Edge,
}

impl Undo {
    pub(crate) fn kind(&self) -> UndoKind {
        match self {
            Undo::Network => UndoKind::Network,
            Undo::Role { .. } => UndoKind::Role,
            Undo::Secret { .. } => UndoKind::Secret,
            Undo::Group { .. } => UndoKind::Group,
            Undo::Stopped { .. } | Undo::Terminated { .. } | Undo::Detached(_) => UndoKind::Move,
            Undo::Launch { .. } => UndoKind::Launch,
            Undo::LoadBalancer | Undo::Distribution => UndoKind::Edge,
        }
    }
}

/// What a batch of launch or group entries made: the addresses they tried, and (address, id)
/// of each resource — the ids AWS answered, then those `found` by tag at a tried address
/// (a create whose answer was lost), less what existed before the run.
pub(crate) fn made<'a>(
    batch: &'a [Undo],
    found: impl Iterator<Item = (Option<&'a str>, &'a str)>,
    pre_existing: &HashSet<String>,
) -> (HashSet<&'a str>, Vec<(String, String)>) {
    let mut addresses: HashSet<&str> = HashSet::new();
    let mut made: Vec<(String, String)> = Vec::new();
    for u in batch {
        if let Undo::Launch { address, id } | Undo::Group { address, id } = u {
            addresses.insert(address);
            if let Some(id) = id {
                made.push((address.clone(), id.clone()));
            }
        }
    }
    for (lid, id) in found {
        let lid = lid.unwrap_or("");
        if addresses.contains(lid) && !pre_existing.contains(id) && !made.iter().any(|m| m.1 == id)
        {
            made.push((lid.to_string(), id.to_string()));
        }
    }
    (addresses, made)
}

/// What one run has done that a rollback undoes, oldest first.
#[derive(Debug, Default)]
pub(crate) struct UndoStack {
    entries: Vec<Undo>,
}

impl UndoStack {
    /// Records `u`, newest.
    pub(crate) fn push(&mut self, u: Undo) {
        self.entries.push(u);
    }

    /// Records that a network create was sent (once: its undo sweeps them all).
    pub(crate) fn network(&mut self) {
        if !self.entries.contains(&Undo::Network) {
            self.entries.push(Undo::Network);
        }
    }

    /// The newest entry is not to be undone after all (a secret that existed already).
    pub(crate) fn forget_last(&mut self) {
        self.entries.pop();
    }

    /// AWS answered the create sent at `address` (a launch or a group) with `id`.
    pub(crate) fn answered(&mut self, address: &str, answer: &str) {
        for e in self.entries.iter_mut().rev() {
            match e {
                Undo::Launch { address: a, id } | Undo::Group { address: a, id }
                    if a == address && id.is_none() =>
                {
                    *id = Some(answer.to_string());
                    return;
                }
                _ => {}
            }
        }
    }

    /// The instances this run launched and AWS confirmed: (address, id), in launch order.
    pub(crate) fn launched(&self) -> Vec<(String, String)> {
        self.entries
            .iter()
            .filter_map(|e| match e {
                Undo::Launch {
                    address,
                    id: Some(id),
                } => Some((address.clone(), id.clone())),
                _ => None,
            })
            .collect()
    }

    /// Empties the stack into batches to undo, newest first: entries of one kind in a row
    /// form one batch (in newest-first order within it).
    pub(crate) fn take_batches(&mut self) -> Vec<(UndoKind, Vec<Undo>)> {
        let mut out: Vec<(UndoKind, Vec<Undo>)> = Vec::new();
        for e in std::mem::take(&mut self.entries).into_iter().rev() {
            match out.last_mut() {
                Some((k, batch)) if *k == e.kind() => batch.push(e),
                _ => out.push((e.kind(), vec![e])),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch(a: &str) -> Undo {
        Undo::Launch {
            address: a.into(),
            id: None,
        }
    }

    #[test]
    fn batches_come_newest_first_and_join_only_neighbours_of_a_kind() {
        let mut s = UndoStack::default();
        s.network();
        s.network();
        s.push(Undo::Role {
            address: "role/app".into(),
            name: "gm-x-app".into(),
        });
        s.push(Undo::Group {
            address: "sg/web".into(),
            id: None,
        });
        s.push(launch("instance/web/0"));
        s.push(launch("instance/web/1"));
        s.answered("instance/web/1", "i-1");
        s.answered("sg/web", "sg-1");
        s.push(Undo::LoadBalancer);
        s.push(Undo::Distribution);
        assert_eq!(
            s.launched(),
            [("instance/web/1".to_string(), "i-1".to_string())]
        );
        let batches = s.take_batches();
        let kinds: Vec<UndoKind> = batches.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            kinds,
            [
                UndoKind::Edge,
                UndoKind::Launch,
                UndoKind::Group,
                UndoKind::Role,
                UndoKind::Network
            ]
        );
        assert_eq!(batches[0].1, [Undo::Distribution, Undo::LoadBalancer]);
        assert_eq!(batches[1].1.len(), 2);
        assert_eq!(
            batches[2].1,
            [Undo::Group {
                address: "sg/web".into(),
                id: Some("sg-1".into())
            }]
        );
        assert!(s.take_batches().is_empty(), "taken once");
    }
}
