//! Token names: the strings dataset files write for token ids and class ids.

use std::collections::HashMap;

/// An ordered list of token names; id `i` is written as `names[i]`. Aliases are other spellings
/// accepted when reading (tanaka accepts the English word for each Japanese token).
#[derive(Debug, Clone, PartialEq)]
pub struct Vocabulary {
    names: Vec<String>,
    ids: HashMap<String, usize>,
}

impl Vocabulary {
    /// Names must be distinct; a later duplicate would be unreachable, so it is a caller bug.
    pub fn new<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Vocabulary {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        let ids = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        Vocabulary { names, ids }
    }

    /// Also accept `alias` when reading token `id`; an alias never shadows a name.
    pub fn with_alias(mut self, alias: impl Into<String>, id: usize) -> Vocabulary {
        self.ids.entry(alias.into()).or_insert(id);
        self
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The id written as `name` (or one of its aliases).
    pub fn id(&self, name: &str) -> Option<usize> {
        self.ids.get(name).copied()
    }

    /// The name of token `id`; panics if `id >= len()` (ids come from checked sequences).
    pub fn name(&self, id: usize) -> &str {
        &self.names[id]
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The names in a short list for error messages: all of them if few, else the first and last.
    pub fn summary(&self) -> String {
        let quoted: Vec<String> = self.names.iter().map(|n| format!("{n:?}")).collect();
        if quoted.len() <= 12 {
            quoted.join(", ")
        } else {
            format!(
                "{}, …, {} ({} tokens)",
                quoted[..4].join(", "),
                quoted[quoted.len() - 2..].join(", "),
                quoted.len()
            )
        }
    }
}
